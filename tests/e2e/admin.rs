//! The admin API's gate, against the real binary: bearer token on `/api/v1`,
//! Host check (DNS rebinding), no cross-site posts, the token file, and a
//! non-loopback listener refused without a configured token.

use psa_bridge::demo::DemoOptions;
use reqwest::StatusCode;

use crate::common::{cli, cli_with_env, env, text, Bridge, STEP};

fn token_file(env: &psa_bridge::demo::DemoEnv) -> std::path::PathBuf {
    psa_bridge::admin::token::token_file(&env.dir.join("store"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_needs_the_token_and_its_own_host_name() {
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 60,
        ..Default::default()
    })
    .await;
    let config = env.config_path.to_str().unwrap().to_string();
    let bridge = Bridge::spawn_with_env(&env.config_path, &[("RUST_LOG", "trace")]).await;
    let token = bridge.admin_token();
    assert_eq!(token.len(), 64, "a generated token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(token_file(&env))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only token file");
    }
    let client = reqwest::Client::new();
    let outbox = bridge.admin_url("/api/v1/outbox");
    let status = |r: reqwest::Response| r.status();

    // No token, a wrong token, another scheme: 401 with a Bearer challenge.
    let none = client.get(&outbox).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(none.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let wrong = format!("{}x", &token[..63]);
    for request in [
        client.get(&outbox).bearer_auth(&wrong),
        client.get(&outbox).bearer_auth(&token[..63]),
        client.get(&outbox).basic_auth("admin", Some(&token)),
        client
            .get(&outbox)
            .header("cookie", format!("token={token}")),
    ] {
        assert_eq!(
            status(request.send().await.unwrap()),
            StatusCode::UNAUTHORIZED
        );
    }
    for path in ["/api/v1/audit/verify", "/api/v1/tickets/autotask/1/audit"] {
        assert_eq!(
            status(client.get(bridge.admin_url(path)).send().await.unwrap()),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    // The right token: 200.
    let right = client
        .get(&outbox)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);

    // Another Host (a DNS name rebound to 127.0.0.1): refused even with the token.
    for path in ["/api/v1/outbox", "/healthz", "/metrics"] {
        let rebound = client
            .get(bridge.admin_url(path))
            .bearer_auth(&token)
            .header(
                "host",
                format!("rebind.evil.example:{}", bridge.admin.port()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST, "{path}");
    }
    let by_name = client
        .get(format!(
            "http://localhost:{}/api/v1/outbox",
            bridge.admin.port()
        ))
        .bearer_auth(&token)
        .header("host", format!("localhost:{}", bridge.admin.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.status(), StatusCode::OK, "localhost is this host");

    // Re-queue (POST): token required; no form posts, no cross-origin posts.
    let retry = bridge.admin_url("/api/v1/outbox/999999/retry");
    assert_eq!(
        status(client.post(&retry).send().await.unwrap()),
        StatusCode::UNAUTHORIZED
    );
    for (name, value) in [
        ("content-type", "application/x-www-form-urlencoded"),
        ("content-type", "text/plain"),
        ("content-type", "multipart/form-data; boundary=x"),
    ] {
        let form = client
            .post(&retry)
            .bearer_auth(&token)
            .header(name, value)
            .body("a=b")
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{value}");
    }
    let cross = client
        .post(&retry)
        .bearer_auth(&token)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let genuine = client
        .post(&retry)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        genuine.status(),
        StatusCode::NOT_FOUND,
        "reaches the handler"
    );

    // Health and metrics stay open (on this host).
    let (code, health) = bridge.health().await;
    assert_eq!(code, 200, "{health}");
    for task in ["planner", "pruner", "delivery:autotask", "http:admin"] {
        assert_eq!(health["tasks"][task]["state"], "running", "{health}");
    }
    assert_eq!(
        status(
            client
                .get(bridge.admin_url("/metrics"))
                .send()
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    let public: serde_json::Value = client
        .get(bridge.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["tasks"]["planner"]["state"], "running", "{public}");

    // The CLI keeps working while the daemon holds the store.
    for args in [
        vec!["outbox", "list", "--config", &config],
        vec!["audit", "verify", "--config", &config],
    ] {
        let out = cli(&args).await;
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    // With a wrong token from the environment it says what is missing.
    let refused = cli_with_env(
        &["outbox", "list", "--config", &config],
        &[("PSA_BRIDGE_ADMIN_TOKEN", &wrong)],
    )
    .await;
    assert!(!refused.status.success());
    assert!(text(&refused).contains("401"), "{}", text(&refused));
    assert!(text(&refused).contains("token"), "{}", text(&refused));

    bridge.stop().await;
    let mut logs = String::new();
    for entry in std::fs::read_dir(&env.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            logs.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    assert!(logs.contains("TRACE"), "trace logs were written");
    assert!(
        !logs.contains(&token),
        "the admin token appears in the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_token_is_used_and_no_file_is_written() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = env.config_path.to_str().unwrap().to_string();
    let text_before = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        text_before.replace(
            "admin_listen = \"127.0.0.1:0\"\n",
            "admin_listen = \"127.0.0.1:0\"\nadmin_token = \"${TEST_ADMIN_TOKEN}\"\n",
        ),
    )
    .unwrap();
    let token = "configured-token-0123456789";
    let bridge = Bridge::spawn_with_env(&env.config_path, &[("TEST_ADMIN_TOKEN", token)]).await;
    assert!(!token_file(&env).exists(), "no token file when configured");
    let client = reqwest::Client::new();
    let outbox = bridge.admin_url("/api/v1/outbox");
    assert_eq!(
        client
            .get(&outbox)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        client.get(&outbox).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // The CLI reads the configured token through the same variable.
    let out = cli_with_env(
        &["outbox", "list", "--config", &config],
        &[("TEST_ADMIN_TOKEN", token)],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_admin_listener_without_token_refuses_to_start() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = env.config_path.to_str().unwrap().to_string();
    let original = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        original.replace(
            "admin_listen = \"127.0.0.1:0\"",
            "admin_listen = \"0.0.0.0:0\"",
        ),
    )
    .unwrap();
    let run = tokio::time::timeout(crate::common::STEP, cli(&["run", "--config", &config]))
        .await
        .expect("the daemon refuses at once instead of running");
    let out = text(&run);
    assert!(!run.status.success(), "{out}");
    assert!(out.contains("daemon.admin_listen"), "{out}");
    assert!(out.contains("daemon.admin_token"), "{out}");
    assert!(!token_file(&env).exists(), "nothing started");
    let check = cli(&["check", "--offline", "--config", &config]).await;
    assert!(!check.status.success());
    assert!(
        text(&check).contains("daemon.admin_token"),
        "{}",
        text(&check)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_have_their_own_listener() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let original = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        original.replace(
            "admin_listen = \"127.0.0.1:0\"\n",
            "admin_listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n",
        ),
    )
    .unwrap();
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon)
        .await
        .unwrap();
    let daemon = psa_bridge::daemon::start(
        loaded,
        listeners,
        std::sync::Arc::new(psa_bridge::clock::SystemClock),
    )
    .await
    .unwrap();
    let metrics = daemon.metrics_addr.expect("a metrics listener");
    let get = |url: String| async move { reqwest::get(url).await.unwrap() };
    let scraped = get(format!("http://{metrics}/metrics")).await;
    assert_eq!(scraped.status(), StatusCode::OK, "no token needed");
    assert!(scraped.text().await.unwrap().contains("psa_bridge_"));
    let health: serde_json::Value = get(format!("http://{metrics}/healthz"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(health["tasks"]["planner"]["state"], "running");
    assert_eq!(
        get(format!("http://{metrics}/api/v1/outbox"))
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "no admin API on the metrics listener"
    );
    assert_eq!(
        get(format!("http://{}/metrics", daemon.admin_addr))
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "metrics moved off the admin listener"
    );
    daemon.shutdown().await;
}

/// A second daemon on a store another one holds stops at the store's lock,
/// before touching the token file (it used to create the file first, so two
/// daemons raced for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_stops_at_the_store_lock_before_the_token_file() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let held = psa_bridge::store::Store::open(&loaded.store_path).unwrap();
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon)
        .await
        .unwrap();
    let started = psa_bridge::daemon::start(
        loaded,
        listeners,
        std::sync::Arc::new(psa_bridge::clock::SystemClock),
    )
    .await;
    let Err(err) = started else {
        panic!("a second daemon started on a held store");
    };
    assert!(
        matches!(err, psa_bridge::daemon::DaemonError::Store(_)),
        "{err}"
    );
    assert!(
        !token_file(&env).exists(),
        "token file written before the lock"
    );
    drop(held);
}

/// The CLI refuses a token file others can read, saying why, instead of
/// sending it (or failing later with a bare 401).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_refuses_a_token_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 60,
        ..Default::default()
    })
    .await;
    let config = env.config_path.to_str().unwrap().to_string();
    let bridge = Bridge::spawn(&env.config_path).await;
    let file = token_file(&env);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = cli(&["outbox", "list", "--config", &config]).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("mode 644"), "{}", text(&out));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = cli(&["outbox", "list", "--config", &config]).await;
    assert!(out.status.success(), "{}", text(&out));
    bridge.stop().await;
}

/// Walks the admin route table (the one the router is built from): every
/// route that needs the token, called with every method, without a token
/// and with a wrong one, answers 401 with a `Bearer` challenge and changes
/// nothing in the store. A route added later is in the table, so in the walk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_route_refuses_requests_without_the_token() {
    use psa_bridge::admin::{Access, ROUTES};
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 60,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let token = bridge.admin_token();
    let wrong = format!("{}x", &token[..token.len() - 1]);
    // What the store holds, read with the token.
    let snapshot = || async {
        let mut all = String::new();
        for path in [
            "/api/v1/outbox",
            "/api/v1/notices/dead",
            "/api/v1/links",
            "/api/v1/audit/verify",
            "/api/v1/tickets/autotask/1/audit",
        ] {
            all.push_str(&bridge.admin_get(path).await);
        }
        all
    };
    // Let start-up writes (first polls, registrations) settle first.
    let mut before = snapshot().await;
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let again = snapshot().await;
        if again == before {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never settled");
        before = again;
    }

    let client = reqwest::Client::new();
    let mut walked = 0;
    for route in ROUTES {
        let url = bridge.admin_url(
            &route
                .path
                .replace("{id}", "1")
                .replace("{connection}", "autotask")
                .replace("{ticket}", "1")
                .replace("{name}", "acme"),
        );
        if let Access::Open(why) = route.access {
            let dashboard = route.endpoint == psa_bridge::admin::Endpoint::Dashboard;
            assert!(
                dashboard
                    || ["/healthz", "/metrics", "/readyz", "/api/v1/openapi.json"]
                        .contains(&route.path),
                "{} is open ({why}): is that deliberate?",
                route.path
            );
            let open = client.get(&url).send().await.unwrap();
            assert_eq!(open.status(), StatusCode::OK, "{}", route.path);
            continue;
        }
        for method in [
            "GET",
            "HEAD",
            "POST",
            "PUT",
            "PATCH",
            "DELETE",
            route.method,
        ] {
            let method: reqwest::Method = method.parse().unwrap();
            for auth in [None, Some(wrong.as_str()), Some("")] {
                let mut request = client
                    .request(method.clone(), &url)
                    .header("content-type", "application/json")
                    .body("{}");
                if let Some(t) = auth {
                    request = request.bearer_auth(t);
                }
                let response = request.send().await.unwrap();
                let what = format!("{method} {} with token {auth:?}", route.path);
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .unwrap_or_else(|| panic!("{what}: no challenge"));
                assert!(
                    challenge.to_str().unwrap().starts_with("Bearer"),
                    "{what}: {challenge:?}"
                );
                walked += 1;
            }
        }
    }
    assert!(walked >= 15 * 7 * 3, "every token route was walked");
    assert_eq!(
        snapshot().await,
        before,
        "the refused requests changed the store"
    );
    bridge.stop().await;
}
