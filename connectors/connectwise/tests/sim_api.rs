//! The simulator's API surface as a raw HTTP client sees it: auth, discovery,
//! conditions, paging, PATCH rules, notes, and signed callbacks delivered to a
//! receiver that verifies them with the connector.

mod common;

use std::sync::{Arc, Mutex};

use psa_connector::{Connector, NewComment, Visibility, WebhookRequest};
use psa_connectwise::SimNoteKind;
use serde_json::{json, Value};

type Seen = Arc<Mutex<Vec<Result<Vec<psa_connector::ChangeHint>, String>>>>;

const P3: &str = "Priority 3 - Normal Response";

#[tokio::test]
async fn discovery_and_auth() {
    let sim = common::start_sim().await;
    let plain = reqwest::Client::new();
    let info: Value =
        common::fetch(plain.get(format!("{}login/companyinfo/demo", sim.site_url()))).await;
    assert_eq!(info["Codebase"], "v2025_1/");
    let unknown = plain
        .get(format!("{}login/companyinfo/nobody", sim.site_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let r = plain
        .get(common::api(&sim, "service/boards"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "Unauthorized");

    let client = common::raw_client(&sim);
    let r = client
        .get(common::api(&sim, "service/boards"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("api-current-version").is_some());

    // Valid keys without the clientId header.
    let auth = r.headers().clone();
    drop(auth);
    let o = sim.options();
    let r = plain
        .get(common::api(&sim, "service/boards"))
        .basic_auth(
            format!("{}+{}", o.company_id, o.public_key),
            Some(&o.private_key),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("clientId"));

    let wrong_codebase = client
        .get(format!("{}v2019_1/apis/3.0/service/boards", sim.site_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_codebase.status(), 404);
}

#[tokio::test]
async fn conditions_order_paging_and_fields() {
    let sim = common::start_sim().await;
    for i in 0..30 {
        let board = if i % 2 == 0 {
            "Co-Managed"
        } else {
            "Help Desk"
        };
        sim.user_create_ticket(&format!("Ticket {i}"), board, "ACME", P3);
    }
    let client = common::raw_client(&sim);
    let get = |q: &str| {
        let client = client.clone();
        let url = format!("{}?{q}", common::api(&sim, "service/tickets"));
        async move { client.get(url).send().await.unwrap() }
    };

    let r = get("conditions=board%2Fname%3D%22Help%20Desk%22&pageSize=10&orderBy=id%20desc").await;
    let link = r
        .headers()
        .get("link")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let page: Vec<Value> = r.json().await.unwrap();
    assert_eq!(page.len(), 10);
    assert!(page[0]["id"].as_i64() > page[1]["id"].as_i64());
    assert!(page.iter().all(|t| t["board"]["name"] == "Help Desk"));
    assert!(
        link.contains("rel=\"next\"") && link.contains("page=2"),
        "{link}"
    );

    let r = get("pageSize=1000&fields=id,status/name").await;
    assert!(r.headers().get("link").is_none());
    let all: Vec<Value> = r.json().await.unwrap();
    assert_eq!(all.len(), 30);
    assert_eq!(
        all[0],
        json!({"id": all[0]["id"], "status": {"name": "New"}})
    );

    let r = get("conditions=nosuchfield%3D1").await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "InvalidField");
    assert_eq!(get("conditions=id%3D%3D").await.status(), 400);

    let count: Value = common::fetch(client.get(format!(
        "{}?conditions=summary%20like%20%22Ticket%201*%22",
        common::api(&sim, "service/tickets/count")
    )))
    .await;
    assert_eq!(count["count"], 11); // 1, 10..19

    let found: Vec<Value> = common::fetch(
        client
            .post(common::api(&sim, "service/tickets/search"))
            .json(&json!({"conditions": "summary = \"Ticket 7\" OR summary = \"Ticket 8\""})),
    )
    .await;
    assert_eq!(found.len(), 2);

    // Forward-only paging.
    let mut url = format!("{}?pageSize=12", common::api(&sim, "service/tickets"));
    let mut seen = Vec::new();
    loop {
        let r = client
            .get(&url)
            .header("pagination-type", "forward-only")
            .send()
            .await
            .unwrap();
        let next = r
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_string());
        let page: Vec<Value> = r.json().await.unwrap();
        seen.extend(page.iter().map(|t| t["id"].as_i64().unwrap()));
        match next {
            Some(l) => {
                url = l
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string()
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 30);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    let r = client
        .get(format!(
            "{}?orderBy=id%20asc",
            common::api(&sim, "service/tickets")
        ))
        .header("pagination-type", "forward-only")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn patch_rules() {
    let sim = common::start_sim().await;
    let t = sim.user_create_ticket("Patch me", "Co-Managed", "ACME", P3);
    let client = common::raw_client(&sim);
    let url = common::api(&sim, &format!("service/tickets/{}", t.id));
    let patch = |ops: Value| {
        let client = client.clone();
        let url = url.clone();
        async move { client.patch(url).json(&ops).send().await.unwrap() }
    };
    assert_eq!(
        patch(json!([{"op": "replace", "path": "Summary", "value": "x"}]))
            .await
            .status(),
        400
    );
    assert_eq!(patch(json!({"summary": "x"})).await.status(), 400);
    let r = patch(json!([{"op": "replace", "path": "summary", "value": "y".repeat(101)}])).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "MaxLengthField");
    // The documented false 200 on a reference sub-path.
    assert_eq!(
        patch(json!([{"op": "replace", "path": "status/id", "value": 12}]))
            .await
            .status(),
        200
    );
    assert_eq!(sim.ticket(t.id).unwrap().status, "New");
    // A status of another board.
    let r = patch(json!([{"op": "replace", "path": "status", "value": {"id": 22}}])).await;
    assert_eq!(r.status(), 400);
    let r = patch(json!([{"op": "replace", "path": "status", "value": {"id": 15}}])).await;
    assert_eq!(r.status(), 200);
    let now = sim.ticket(t.id).unwrap();
    assert!(now.closed);
    assert_eq!(now.status, ">Closed");
}

#[tokio::test]
async fn notes_flags_and_flattened_newlines() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t = sim.user_create_ticket("Notes", "Co-Managed", "ACME", P3);
    let id = t.id.to_string();
    connector
        .add_comment(
            &id,
            &NewComment {
                body: "first\nsecond".into(),
                visibility: Visibility::Internal,
                marker: "op-1".into(),
                resolution: false,
            },
        )
        .await
        .unwrap();
    connector
        .add_comment(
            &id,
            &NewComment {
                body: "Fixed.".into(),
                visibility: Visibility::Public,
                marker: "op-2".into(),
                resolution: true,
            },
        )
        .await
        .unwrap();
    sim.user_add_note(
        t.id,
        "Resolution by hand",
        SimNoteKind::Resolution,
        "jsmith",
    );
    let notes = sim.notes(t.id);
    assert_eq!(notes[0].text, "first second [psa-bridge:op-1]");
    assert!(notes[0].internal && !notes[0].discussion);
    assert!(notes[1].discussion && notes[1].resolution);
    let comments = connector.list_comments(&id).await.unwrap();
    assert_eq!(comments.len(), 3);
    assert_eq!(comments[0].marker.as_deref(), Some("op-1"));
    assert_eq!(comments[0].body, "first second");
    assert_eq!(comments[0].visibility, Visibility::Internal);
    assert_eq!(comments[1].visibility, Visibility::Public);
    assert!(comments[1].resolution);
    assert_eq!(
        comments[2].visibility,
        Visibility::Public,
        "resolution notes are what the customer is told: public"
    );
    assert_eq!(comments[2].author.as_deref(), Some("John Smith"));

    let client = common::raw_client(&sim);
    let r = client
        .post(common::api(&sim, &format!("service/tickets/{id}/notes")))
        .json(&json!({"text": "no flags"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn callbacks_are_delivered_signed_and_verified() {
    use axum::extract::{RawQuery, State};
    let sim = common::start_sim().await;
    let connector = Arc::new(common::connector(&sim));
    let received: Seen = Arc::default();
    type Ctx = (Arc<psa_connectwise::ConnectWiseConnector>, Seen);
    async fn receive(
        State((c, seen)): State<Ctx>,
        RawQuery(q): RawQuery,
        headers: http::HeaderMap,
        body: axum::body::Bytes,
    ) -> http::StatusCode {
        let r = c
            .verify_webhook(&WebhookRequest {
                headers,
                query: q,
                body,
            })
            .await;
        let status = match &r {
            Ok(_) => http::StatusCode::OK,
            Err(e) => http::StatusCode::from_u16(e.status_code()).unwrap(),
        };
        seen.lock().unwrap().push(r.map_err(|e| e.to_string()));
        status
    }
    let app = axum::Router::new()
        .route("/hooks/cw", axum::routing::post(receive))
        .with_state((connector.clone(), received.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let hook = format!("http://{addr}/hooks/cw");
    connector.register_webhook(&hook).await.unwrap();
    connector.register_webhook(&hook).await.unwrap();
    let list: Vec<Value> =
        common::fetch(common::raw_client(&sim).get(common::api(&sim, "system/callbacks"))).await;
    assert_eq!(list.len(), 1, "registering twice keeps one callback");
    assert_eq!(list[0]["url"], format!("{hook}?id="));

    let t = sim.user_create_ticket("Hooked", "Co-Managed", "ACME", P3);
    sim.user_set_status(t.id, "In Progress");
    sim.wait_callbacks_idle().await;
    let seen = received.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for r in &seen {
        let hints = r.as_ref().expect("genuine callback verified");
        assert_eq!(hints[0].ticket_id, t.id.to_string());
    }
    assert_ne!(
        seen[0].as_ref().unwrap()[0].dedup_key,
        seen[1].as_ref().unwrap()[0].dedup_key
    );

    sim.set_callbacks_enabled(false);
    sim.user_set_priority(t.id, "Priority 1 - Emergency Response");
    sim.wait_callbacks_idle().await;
    assert_eq!(received.lock().unwrap().len(), 2);
    // Polling still sees it.
    let hints = connector.changed_since(t.last_updated).await.unwrap();
    assert!(hints.iter().any(|h| h.ticket_id == t.id.to_string()));
}

#[tokio::test]
async fn polling_follows_pages_beyond_1000() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    for i in 0..1005 {
        sim.user_create_ticket(&format!("Bulk {i}"), "Help Desk", "Contoso", P3);
    }
    let hints = connector.changed_since(before).await.unwrap();
    assert_eq!(hints.len(), 1005);
    assert!(hints
        .iter()
        .all(|h| h.dedup_key.starts_with("connectwise:poll:")));
}
