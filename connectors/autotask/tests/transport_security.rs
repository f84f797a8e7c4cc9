//! TLS certificate verification is on for both Autotask clients: the API
//! client and the zone discovery client refuse a loopback HTTPS server with
//! a self-signed certificate, with an error that says so, before any
//! request (or credential) is sent.

use std::time::Duration;

use psa_autotask::{default_limits, AutotaskConnector, AutotaskSettings};
use psa_connector::probe::SelfSignedServer;
use psa_connector::Connector;

fn connector(settings: AutotaskSettings) -> AutotaskConnector {
    // A long timeout: a slow machine never turns the refusal into a timeout.
    AutotaskConnector::new(settings, default_limits(), Duration::from_secs(60)).unwrap()
}

#[tokio::test]
async fn the_api_client_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let mut s = AutotaskSettings::new("bridge@example.com", "secret", "CODE");
    s.api_url = Some(format!("{}/ATServicesRest/", server.origin));
    let err = connector(s).get_ticket("1").await.unwrap_err();
    server.assert_refused(&err);
}

#[tokio::test]
async fn zone_discovery_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let mut s = AutotaskSettings::new("bridge@example.com", "secret", "CODE");
    s.zone_discovery_url = format!("{}/atservicesrest/", server.origin);
    let err = connector(s).discover().await.unwrap_err();
    server.assert_refused(&err);
    assert!(err.to_string().contains("zone discovery"), "{err}");
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused() {
    let mut s = AutotaskSettings::new("bridge@example.com", "secret", "CODE");
    s.api_url = Some("http://webservices5.autotask.net/ATServicesRest/".into());
    let Err(err) = AutotaskConnector::new(s, default_limits(), Duration::from_secs(5)) else {
        panic!("accepted");
    };
    assert!(err.to_string().contains("use https"), "{err}");
}
