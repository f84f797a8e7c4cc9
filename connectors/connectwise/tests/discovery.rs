//! Discovery through `login/companyinfo`: a site configured as the web host
//! reaches the API host the company info names in `SiteUrl`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::get;
use psa_connector::Connector;
use serde_json::json;

/// A "web host" that serves only company info, pointing at the simulator.
async fn web_host(api_host: String, codebase: String) -> (u16, Arc<AtomicUsize>) {
    let other = Arc::new(AtomicUsize::new(0));
    let seen = other.clone();
    let app = axum::Router::new()
        .route(
            "/login/companyinfo/{c}",
            get(move || {
                let (api_host, codebase) = (api_host.clone(), codebase.clone());
                async move {
                    axum::Json(json!({
                        "CompanyName": "demo", "Codebase": codebase, "CompanyID": "demo",
                        "IsCloud": true, "SiteUrl": api_host,
                    }))
                }
            }),
        )
        .fallback(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                http::StatusCode::NOT_FOUND
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, other)
}

#[tokio::test]
async fn the_web_host_leads_to_the_api_host_named_in_site_url() {
    let sim = common::start_sim().await;
    let t = sim.user_create_ticket("VPN", "Co-Managed", "ACME", "Priority 3 - Normal Response");
    // SiteUrl as a bare host, the way the cloud names its API host.
    let (port, other) = web_host(
        format!("127.0.0.1:{}", sim.addr().port()),
        sim.options().codebase.clone(),
    )
    .await;
    let mut settings = common::settings(&sim);
    settings.site_url = format!("http://127.0.0.1:{port}/");
    let connector = common::connector_with(settings);
    let ticket = connector.get_ticket(&t.id.to_string()).await.unwrap();
    assert_eq!(ticket.title, "VPN");
    connector.discover().await.unwrap();
    assert_eq!(
        other.load(Ordering::SeqCst),
        0,
        "no API call to the web host"
    );
}

#[tokio::test]
async fn the_simulator_serves_site_url_and_codebase() {
    let sim = common::start_sim().await;
    let info: serde_json::Value = common::fetch(
        reqwest::Client::new().get(format!("{}login/companyinfo/demo", sim.site_url())),
    )
    .await;
    assert_eq!(info["Codebase"], "v2025_1/");
    assert_eq!(
        info["SiteUrl"].as_str().unwrap().trim_end_matches('/'),
        sim.site_url().trim_end_matches('/')
    );
}
