//! TLS certificate verification is on for the Jira client: a loopback HTTPS
//! server with a self-signed certificate is refused, with an error that says
//! so, before any request (or credential) is sent.

use std::time::Duration;

use psa_connector::tls_probe::SelfSignedServer;
use psa_connector::Connector;
use psa_jira::{default_limits, JiraConnector, JiraSettings};

#[tokio::test]
async fn the_client_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let s = JiraSettings::new(&server.origin, "bot@example.com", "token", "SUP");
    // A long timeout: a slow machine never turns the refusal into a timeout.
    let connector = JiraConnector::new(s, default_limits(), Duration::from_secs(60)).unwrap();
    let err = connector.get_ticket("SUP-1").await.unwrap_err();
    server.assert_refused(&err);
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused() {
    let s = JiraSettings::new(
        "http://acme.atlassian.net",
        "bot@example.com",
        "token",
        "SUP",
    );
    let err = JiraConnector::new(s, default_limits(), Duration::from_secs(5))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("use https"), "{err}");
}
