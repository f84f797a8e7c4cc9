//! Transport security of the shared client: a server whose certificate no
//! public authority signed is refused with an error that says "certificate"
//! (no request reaches it), plain http is refused off loopback, and no
//! source file can turn certificate verification off or build a vendor
//! client around the one builder.

use std::time::Duration;

use http::{HeaderMap, Method};
use psa_connector::http::{check_scheme, HttpClient, HttpSettings};
use psa_connector::probe::{SelfSignedServer, Trap};
use psa_connector::{ConnectorError, RateLimits};

fn settings(base: &str) -> HttpSettings {
    HttpSettings {
        base_url: base.parse().unwrap(),
        default_headers: HeaderMap::new(),
        limits: RateLimits {
            requests_per_second: 100,
            burst: 100,
            requests_per_hour: None,
            max_concurrent: 4,
        },
        // Far above a refused handshake: a slow machine never turns the
        // certificate error into a timeout.
        timeout: Duration::from_secs(60),
        default_retry_after: Duration::from_secs(60),
        error_message: |_, _| String::new(),
    }
}

#[tokio::test]
async fn a_self_signed_server_is_refused_with_a_certificate_error() {
    let server = SelfSignedServer::start().await;
    let client = HttpClient::new(settings(&format!("{}/api/", server.origin))).unwrap();
    let err = client
        .send(Method::GET, client.url("tickets").unwrap(), None)
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Transport(m) => {
            assert!(m.to_lowercase().contains("certificate"), "{m}");
            assert!(!m.contains("/api/tickets"), "no URL in the error: {m}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.handshakes_completed(), 0);
}

/// A vendor answer redirecting to another origin is an error, never
/// followed: the request (with the connection's credentials in its default
/// headers) is not repeated there.
#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let trap = Trap::start().await;
    let target = format!("{}/steal", trap.origin);
    let app = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move {
            (
                http::StatusCode::TEMPORARY_REDIRECT,
                [("location", target)],
                "",
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut s = settings(&base);
    s.default_headers
        .insert("authorization", "Basic c2VjcmV0".parse().unwrap());
    let client = HttpClient::new(s).unwrap();
    for method in [Method::GET, Method::POST] {
        let err = client
            .send(method, client.url("tickets").unwrap(), None)
            .await
            .unwrap_err();
        assert_eq!(err.http_status(), Some(307), "{err:?}");
    }
    assert_eq!(trap.hits(), 0);
}

#[test]
fn plain_http_is_allowed_on_loopback_only() {
    for ok in [
        "https://acme.example.com/",
        "http://127.0.0.1:8080/",
        "http://127.3.4.5/",
        "http://localhost:1/",
        "http://LOCALHOST/",
        "http://[::1]:9/",
    ] {
        assert!(
            check_scheme("base URL", &ok.parse().unwrap()).is_ok(),
            "{ok}"
        );
    }
    for refused in [
        "http://acme.example.com/",
        "http://10.0.0.5/",
        "http://localhost.evil.example/",
        "http://[::2]/",
        "ftp://127.0.0.1/",
    ] {
        let err = check_scheme("base URL", &refused.parse().unwrap()).unwrap_err();
        assert!(matches!(err, ConnectorError::Config(_)), "{refused}: {err}");
    }
    let Err(err) = HttpClient::new(settings("http://acme.example.com/")) else {
        panic!("accepted");
    };
    assert!(err.to_string().contains("use https"), "{err}");
}

/// Every source file of the workspace: no way to disable verification, and
/// the connectors build their vendor clients only through
/// `psa_connector::http::client_builder`.
#[test]
fn no_source_can_turn_certificate_verification_off() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let mut files = Vec::new();
    for dir in ["src", "connectors", "tests", "benches"] {
        collect_rs(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found the sources ({})", files.len());
    let forbidden = [
        concat!("danger_accept_invalid", "_certs"),
        concat!("danger_accept_invalid", "_hostnames"),
        concat!("dangerous", "()"),
        concat!("tls_built_in_root_certs", "(false)"),
    ];
    let builder = concat!("reqwest::Client::", "builder()");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in forbidden {
            assert!(!text.contains(word), "{} uses {word}", file.display());
        }
        let path = file.to_string_lossy().replace('\\', "/");
        let connector_src = path.contains("/connectors/") && path.contains("/src/");
        if connector_src && !path.ends_with("core/src/transport.rs") {
            assert!(
                !text.contains(builder),
                "{} builds a client without psa_connector::http::client_builder",
                file.display()
            );
        }
    }
}

fn collect_rs(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
