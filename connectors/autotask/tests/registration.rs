//! Webhook registration converges: a fault at any step leaves a half-built
//! webhook that the next call completes (no second webhook, every wanted
//! field exactly once), wrong flags are corrected, and the simulator checks
//! the `webhookID` children carry.

mod common;

use std::collections::BTreeMap;

use psa_connector::Connector;
use serde_json::{json, Value};

const BRIDGE_RESOURCE: i64 = 29682940;
const HOOK_URL: &str = "http://127.0.0.1:9/webhooks/autotask-internal";

/// (name, subscribed, display always) per registered field.
type Fields = Vec<(String, bool, bool)>;

struct Hook {
    id: i64,
    active: bool,
    fields: Fields,
    excluded: Vec<i64>,
}

async fn hooks(sim: &psa_autotask::AutotaskSim, entity: &str) -> Vec<Hook> {
    let http = common::api_client();
    let base = format!("{}V1.0/", sim.api_url());
    let names: Value = common::fetch(http.get(format!(
        "{base}{}Fields/entityInformation/fields",
        entity.trim_end_matches('s')
    )))
    .await;
    let mut by_id = BTreeMap::new();
    for f in names["fields"].as_array().unwrap() {
        if f["name"] == "fieldID" {
            for v in f["picklistValues"].as_array().unwrap() {
                by_id.insert(
                    v["value"].as_str().unwrap().parse::<i64>().unwrap(),
                    v["label"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    let list: Value = common::fetch(
        http.post(format!("{base}{entity}/query"))
            .json(&json!({"filter": [{"op": "exist", "field": "id"}]})),
    )
    .await;
    let mut out = Vec::new();
    for h in list["items"].as_array().unwrap() {
        let id = h["id"].as_i64().unwrap();
        let fields: Value = common::fetch(http.get(format!("{base}{entity}/{id}/Fields"))).await;
        let mut fields: Fields = fields["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    by_id[&f["fieldID"].as_i64().unwrap()].clone(),
                    f["isSubscribedField"].as_bool().unwrap(),
                    f["isDisplayAlwaysField"].as_bool().unwrap(),
                )
            })
            .collect();
        fields.sort();
        let excluded: Value =
            common::fetch(http.get(format!("{base}{entity}/{id}/ExcludedResources"))).await;
        out.push(Hook {
            id,
            active: h["isActive"].as_bool().unwrap(),
            fields,
            excluded: excluded["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["resourceID"].as_i64().unwrap())
                .collect(),
        });
    }
    out
}

fn wanted(subscribed: &[&str], always: &[&str]) -> Fields {
    let mut f: Fields = subscribed
        .iter()
        .map(|n| (n.to_string(), true, false))
        .chain(always.iter().map(|n| (n.to_string(), false, true)))
        .collect();
    f.sort();
    f
}

/// Exactly one complete webhook of each kind.
async fn assert_complete(sim: &psa_autotask::AutotaskSim, context: &str) {
    let tickets = hooks(sim, "TicketWebhooks").await;
    assert_eq!(tickets.len(), 1, "{context}: one ticket webhook");
    assert!(tickets[0].active, "{context}");
    assert_eq!(
        tickets[0].fields,
        wanted(
            &[
                "status",
                "priority",
                "title",
                "queueID",
                "description",
                "assignedResourceID",
                "issueType",
                "subIssueType"
            ],
            &["ticketNumber"]
        ),
        "{context}: ticket webhook fields, each exactly once"
    );
    assert_eq!(tickets[0].excluded, vec![BRIDGE_RESOURCE], "{context}");
    let notes = hooks(sim, "TicketNoteWebhooks").await;
    assert_eq!(notes.len(), 1, "{context}: one note webhook");
    assert_eq!(
        notes[0].fields,
        wanted(&["description", "publish"], &["ticketID"]),
        "{context}: note webhook fields, each exactly once"
    );
    assert_eq!(notes[0].excluded, vec![BRIDGE_RESOURCE], "{context}");
}

fn connector(sim: &psa_autotask::AutotaskSim) -> psa_autotask::AutotaskConnector {
    let mut settings = common::settings(sim);
    settings.webhook_excluded_resource_id = Some(BRIDGE_RESOURCE);
    common::connector(settings)
}

#[tokio::test]
async fn a_503_between_fields_is_finished_by_the_next_call() {
    let sim = common::sim().await;
    let c = connector(&sim);
    // The webhook and its first field are created, then the second field gets a 503.
    sim.fail_writes_after(2, &[503]);
    let err = c.register_webhook(HOOK_URL).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let half = hooks(&sim, "TicketWebhooks").await;
    assert_eq!(half.len(), 1);
    assert_eq!(
        half[0].fields.len(),
        1,
        "the fault left the webhook half-built"
    );
    assert!(
        !half[0].active,
        "a half-built webhook must not be active (it would send events missing fields)"
    );

    c.register_webhook(HOOK_URL).await.unwrap();
    assert_complete(&sim, "after the second call").await;

    // Complete now: a third call writes only each webhook's secret.
    let writes = sim.control().writes_by("bridge@example.com").len();
    c.register_webhook(HOOK_URL).await.unwrap();
    assert_secret_writes_only(&sim, writes);
}

/// Every write since the first `since` is a PATCH of a webhook setting its
/// SecretKey, one per webhook kind.
fn assert_secret_writes_only(sim: &psa_autotask::AutotaskSim, since: usize) {
    let writes = sim.control().writes_by("bridge@example.com");
    let later: Vec<String> = writes[since..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        later,
        [
            "PATCH /ATServicesRest/V1.0/TicketWebhooks",
            "PATCH /ATServicesRest/V1.0/TicketNoteWebhooks"
        ],
        "a complete registration only sets the secret again"
    );
}

#[tokio::test]
async fn a_fault_at_any_step_converges() {
    // Ticket webhook: create + 6 fields + 1 exclusion; note webhook: create + 3 fields + 1 exclusion.
    const WRITES: usize = 13;
    for ok in 0..WRITES {
        let sim = common::sim().await;
        let c = connector(&sim);
        sim.fail_writes_after(ok, &[503]);
        assert!(
            c.register_webhook(HOOK_URL).await.is_err(),
            "write {} fails",
            ok + 1
        );
        c.register_webhook(HOOK_URL).await.unwrap();
        assert_complete(&sim, &format!("fault at write {}", ok + 1)).await;
    }
}

#[tokio::test]
async fn wrong_flags_and_a_deactivated_webhook_are_corrected() {
    let sim = common::sim().await;
    let http = common::api_client();
    let base = format!("{}V1.0/", sim.api_url());
    // An earlier, broken registration: inactive, ticketNumber subscribed instead of shown always.
    let created: Value = common::fetch(http.post(format!("{base}TicketWebhooks")).json(&json!({
        "IsActive": false, "IsSubscribedToCreateEvents": true, "IsSubscribedToUpdateEvents": true,
        "Name": "psa-bridge", "SecretKey": common::HOOK_SECRET, "WebhookUrl": HOOK_URL,
        "DeactivationUrl": HOOK_URL,
    })))
    .await;
    let id = created["itemId"].as_i64().unwrap();
    let r = http
        .post(format!("{base}TicketWebhooks/{id}/Fields"))
        .json(&json!({"webhookID": id, "FieldID": 2, "IsSubscribedField": true, "IsDisplayAlwaysField": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let before = hooks(&sim, "TicketWebhooks").await;
    assert_eq!(before[0].fields, vec![("ticketNumber".into(), true, false)]);

    connector(&sim).register_webhook(HOOK_URL).await.unwrap();
    assert_complete(&sim, "after correcting").await;
    let after = hooks(&sim, "TicketWebhooks").await;
    assert_eq!(
        after[0].id, id,
        "the existing webhook is completed, not replaced"
    );
}

#[tokio::test]
async fn children_must_name_their_own_webhook() {
    let sim = common::sim().await;
    let http = common::api_client();
    let base = format!("{}V1.0/", sim.api_url());
    let created: Value = common::fetch(http.post(format!("{base}TicketNoteWebhooks")).json(&json!({
        "IsActive": true, "Name": "x", "SecretKey": "s", "WebhookUrl": HOOK_URL, "DeactivationUrl": HOOK_URL,
    })))
    .await;
    let id = created["itemId"].as_i64().unwrap();
    for (child, body) in [
        (
            "Fields",
            json!({"webhookID": id + 1, "FieldID": 2, "IsDisplayAlwaysField": true}),
        ),
        (
            "ExcludedResources",
            json!({"webhookID": id + 1, "ResourceID": BRIDGE_RESOURCE}),
        ),
        (
            "Fields",
            json!({"webhookID": "abc", "FieldID": 2, "IsDisplayAlwaysField": true}),
        ),
    ] {
        let r = http
            .post(format!("{base}TicketNoteWebhooks/{id}/{child}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500, "{body}");
        let answer: Value = r.json().await.unwrap();
        let message = answer["errors"][0].as_str().unwrap();
        assert!(message.contains("does not match"), "{message}");
    }
    for (child, body) in [
        (
            "Fields",
            json!({"webhookID": id, "FieldID": 2, "IsDisplayAlwaysField": true}),
        ),
        (
            "ExcludedResources",
            json!({"webhookID": id, "ResourceID": BRIDGE_RESOURCE}),
        ),
    ] {
        let r = http
            .post(format!("{base}TicketNoteWebhooks/{id}/{child}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{body}");
    }
    let notes = hooks(&sim, "TicketNoteWebhooks").await;
    assert_eq!(notes[0].fields, vec![("ticketID".into(), false, true)]);
    assert_eq!(notes[0].excluded, vec![BRIDGE_RESOURCE]);
}

/// The note webhook's events must carry `ticketID`: when Autotask does not
/// offer that field, registration fails (and is retried) and no note webhook
/// is switched on; once the field is offered, the next call completes it.
#[tokio::test]
async fn a_missing_always_field_fails_registration_and_leaves_the_webhook_off() {
    let sim = common::sim().await;
    let c = connector(&sim);
    sim.hide_webhook_field("TicketNote", "ticketID", true);
    let err = c.register_webhook(HOOK_URL).await.unwrap_err();
    assert!(
        !matches!(err, psa_connector::ConnectorError::Config(_)),
        "retried, not a configuration error: {err:?}"
    );
    assert!(err.to_string().contains("ticketID"), "{err}");
    let notes = hooks(&sim, "TicketNoteWebhooks").await;
    assert!(
        notes.iter().all(|h| !h.active),
        "no active note webhook without ticketID"
    );

    // A subscribed field that is not offered is only skipped.
    sim.hide_webhook_field("TicketNote", "ticketID", false);
    sim.hide_webhook_field("TicketNote", "publish", true);
    c.register_webhook(HOOK_URL).await.unwrap();
    let notes = hooks(&sim, "TicketNoteWebhooks").await;
    assert_eq!(notes.len(), 1);
    assert!(notes[0].active);
    // `hooks` names fields from the (now shorter) offered list.
    assert_eq!(
        notes[0].fields,
        wanted(&["description"], &["ticketID"]),
        "ticketID shown always, publish skipped"
    );
}

/// A webhook registered with an old secret signs with the new one after the
/// next registration (Autotask never returns the secret, so it is always set).
#[tokio::test]
async fn a_changed_webhook_secret_reaches_the_existing_webhook() {
    let sim = common::sim().await;
    let (url, inbox) = common::receiver().await;
    let mut old = common::settings(&sim);
    old.webhook_secret = Some("old-secret-0000".into());
    common::connector(old).register_webhook(&url).await.unwrap();

    let new = common::connector(common::settings(&sim));
    new.register_webhook(&url).await.unwrap();
    assert_eq!(
        hooks(&sim, "TicketWebhooks").await.len(),
        1,
        "no second webhook"
    );

    let t = sim.user_create_ticket("VPN down", "d", "Level I Support", "Low");
    sim.user_add_note(t.id, "Called the ISP", false, "Tina Tech");
    sim.wait_webhooks_idle().await;
    let received = inbox.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "a ticket and a note event");
    for request in &received {
        new.verify_webhook(request)
            .await
            .expect("signed with the configured (new) secret");
    }
}

/// The simulator's webhook PATCH takes a SecretKey like creation does (1 to
/// 64 characters) and, like Autotask, never shows it on a read.
#[tokio::test]
async fn the_simulator_patches_a_webhook_secret() {
    let sim = common::sim().await;
    let http = common::api_client();
    let base = format!("{}V1.0/", sim.api_url());
    let created: Value = common::fetch(http.post(format!("{base}TicketWebhooks")).json(&json!({
        "IsActive": true, "Name": "x", "SecretKey": "first", "WebhookUrl": HOOK_URL, "DeactivationUrl": HOOK_URL,
    })))
    .await;
    let id = created["itemId"].as_i64().unwrap();
    for (secret, status) in [
        ("x".repeat(65), 500),
        (String::new(), 500),
        ("second".into(), 200),
    ] {
        let r = http
            .patch(format!("{base}TicketWebhooks"))
            .json(&json!({"id": id, "SecretKey": secret}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{secret:?}");
    }
    let read: Value = common::fetch(http.get(format!("{base}TicketWebhooks/{id}"))).await;
    assert_eq!(read["item"]["secretKey"], Value::Null);
}
