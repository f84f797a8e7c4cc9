//! TLS certificate verification is on for both ServiceNow clients: the Table
//! API client and the OAuth token request refuse a loopback HTTPS server with
//! a self-signed certificate, with an error that says so, before any request
//! (or credential) is sent.

use std::time::Duration;

use psa_connector::tls_probe::SelfSignedServer;
use psa_connector::Connector;
use psa_servicenow::{default_limits, AuthMethod, ServiceNowConnector, ServiceNowSettings};

fn connector(settings: ServiceNowSettings) -> ServiceNowConnector {
    // A long timeout: a slow machine never turns the refusal into a timeout.
    ServiceNowConnector::with_limits(settings, default_limits(), Duration::from_secs(60)).unwrap()
}

#[tokio::test]
async fn the_table_api_client_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let s = ServiceNowSettings::basic(&server.origin, "bridge", "password");
    let err = connector(s).get_ticket("1").await.unwrap_err();
    server.assert_refused(&err);
}

#[tokio::test]
async fn the_oauth_token_request_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let mut s = ServiceNowSettings::basic(&server.origin, "bridge", "password");
    s.auth = AuthMethod::OauthPassword;
    s.client_id = Some("client".into());
    s.client_secret = Some("client-secret".into());
    let err = connector(s).get_ticket("1").await.unwrap_err();
    server.assert_refused(&err);
    assert!(err.to_string().contains("OAuth token request"), "{err}");
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused() {
    let s = ServiceNowSettings::basic("http://acme.service-now.com", "bridge", "password");
    let err = ServiceNowConnector::with_limits(s, default_limits(), Duration::from_secs(5))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("use https"), "{err}");
}
