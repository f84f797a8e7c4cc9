//! OAuth: a token expiring mid-run is refreshed exactly once and nothing is
//! lost; a token the instance refuses (401) is refreshed once, a second 401
//! is permanent; tokens and secrets never show in `Debug` or errors.

mod common;

use std::time::Duration;

use psa_connector::{Connector, ConnectorError, NewComment, TicketUpdate, Visibility};
use psa_servicenow::{AuthMethod, ServiceNowConnector, ServiceNowSettings};

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_once_before_use() {
    let sim = common::sim().await;
    let clock = common::TestClock::new();
    let connector = common::connector_with_clock(
        common::oauth_settings(&sim, AuthMethod::OauthPassword),
        &clock,
    );
    let inc = sim.user_create_incident("Token test", "");
    connector.get_ticket(&inc.sys_id).await.unwrap();
    clock.advance(Duration::from_secs(1700));
    connector.get_ticket(&inc.sys_id).await.unwrap();
    assert_eq!(sim.token_grants(), vec!["password"], "still valid for 99 s");
    // 1799 s lifetime, renewed 60 s before: now within the renewal window.
    clock.advance(Duration::from_secs(60));
    for _ in 0..3 {
        connector.get_ticket(&inc.sys_id).await.unwrap();
    }
    assert_eq!(sim.token_grants(), vec!["password", "refresh_token"]);
}

#[tokio::test]
async fn a_token_expiring_mid_run_costs_one_refresh_and_loses_nothing() {
    let sim = common::sim().await;
    let connector = common::connector(common::oauth_settings(&sim, AuthMethod::OauthPassword));
    let inc = sim.user_create_incident("Mid-run expiry", "");
    connector
        .add_comment(
            &inc.sys_id,
            &NewComment {
                body: "before expiry".into(),
                visibility: Visibility::Public,
                marker: "op-1".into(),
                resolution: false,
            },
        )
        .await
        .unwrap();
    // The instance expires the token early (revoked, clock skew): the next
    // write is refused 401, refreshed once, and sent again.
    sim.expire_tokens();
    connector
        .add_comment(
            &inc.sys_id,
            &NewComment {
                body: "after expiry".into(),
                visibility: Visibility::Internal,
                marker: "op-2".into(),
                resolution: false,
            },
        )
        .await
        .unwrap();
    connector
        .update_ticket(
            &inc.sys_id,
            &TicketUpdate {
                status: Some("In Progress".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(sim.token_grants(), vec!["password", "refresh_token"]);
    let journal = sim.journal(&inc.sys_id);
    let texts: Vec<&str> = journal.iter().map(|e| e.value.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "before expiry\n[psa-bridge:op-1]",
            "after expiry\n[psa-bridge:op-2]"
        ],
        "each note written once"
    );
    assert_eq!(sim.incident(&inc.sys_id).unwrap().state, "In Progress");
    let refused: Vec<u16> = sim
        .control()
        .requests()
        .iter()
        .map(|r| r.status)
        .filter(|s| *s == 401)
        .collect();
    assert_eq!(
        refused,
        vec![401],
        "one refused request, then the refreshed token"
    );
}

#[tokio::test]
async fn client_credentials_and_a_second_401_is_permanent() {
    let sim = common::sim().await;
    let connector = common::connector(common::oauth_settings(
        &sim,
        AuthMethod::OauthClientCredentials,
    ));
    let inc = sim.user_create_incident("cc", "");
    connector.get_ticket(&inc.sys_id).await.unwrap();
    // client_credentials gives no refresh token: a refused token is replaced
    // by a new client_credentials grant.
    sim.expire_tokens();
    connector.get_ticket(&inc.sys_id).await.unwrap();
    assert_eq!(
        sim.token_grants(),
        vec!["client_credentials", "client_credentials"]
    );

    // An instance that refuses every token: one refresh, then a permanent 401.
    let url = common::fake(vec![
        (
            "/oauth_token.do",
            200,
            br#"{"access_token":"tok-SECRET-123","expires_in":1799,"token_type":"Bearer"}"#.to_vec(),
        ),
        (
            "/api/now/table/incident/0123456789abcdef0123456789abcdef",
            401,
            br#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#.to_vec(),
        ),
    ])
    .await;
    let mut settings = ServiceNowSettings::basic(&url, "u", "p");
    settings.auth = AuthMethod::OauthClientCredentials;
    settings.client_id = Some("c".into());
    settings.client_secret = Some("client-SECRET-456".into());
    let connector = common::connector(settings);
    let err = connector
        .get_ticket("0123456789abcdef0123456789abcdef")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Http { status: 401, .. }) && !err.is_retryable(),
        "{err:?}"
    );
    for text in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{connector:?}"),
    ] {
        assert!(!text.contains("tok-SECRET-123"), "token leaked: {text}");
        assert!(!text.contains("client-SECRET-456"), "secret leaked: {text}");
    }
}

#[tokio::test]
async fn a_refused_grant_is_a_clear_permanent_error() {
    let sim = common::sim().await;
    let mut settings = common::oauth_settings(&sim, AuthMethod::OauthPassword);
    settings.password = Some("wrong-password".into());
    let connector = ServiceNowConnector::new(settings).unwrap();
    let inc = sim.user_create_incident("x", "");
    let err = connector.get_ticket(&inc.sys_id).await.unwrap_err();
    assert!(!err.is_retryable(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("OAuth password grant refused"), "{text}");
    assert!(!text.contains("wrong-password"));
}
