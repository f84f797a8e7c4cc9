//! The simulator as a raw HTTP API: auth, query syntax (POST and GET
//! `?search=`), counts, paging with POSTed `nextPageUrl`s, and validation.

mod common;

use chrono::Utc;
use psa_connector::Connector;
use serde_json::{json, Value};

#[tokio::test]
async fn paging_counts_and_search() {
    let sim = common::sim().await;
    let before = Utc::now() - chrono::Duration::seconds(1);
    for i in 0..1100 {
        sim.user_create_ticket(&format!("Ticket {i}"), "d", "Level I Support", "Low");
    }
    sim.wait_webhooks_idle().await;
    let c = common::connector(common::settings(&sim));
    let hints = c.changed_since(before).await.unwrap();
    assert_eq!(hints.len(), 1100, "all three pages are followed");

    let http = common::api_client();
    let base = sim.api_url();
    let body = json!({"filter": [{"op": "beginsWith", "field": "title", "value": "ticket 10"}], "MaxRecords": 500});
    let count: Value = common::fetch(
        http.post(format!("{base}V1.0/Tickets/query/count"))
            .json(&body),
    )
    .await;
    assert_eq!(count["queryCount"], 111); // "Ticket 10", "Ticket 100".."Ticket 109", "Ticket 1000".."Ticket 1099"
    let page: Value = common::fetch(
        http.post(format!("{base}V1.0/Tickets/query"))
            .json(&json!({"filter": [{"op": "exist", "field": "id"}], "MaxRecords": 400})),
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 400);
    let next = page["pageDetails"]["nextPageUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.starts_with(&base));
    let get_next = http.get(&next).send().await.unwrap();
    assert_eq!(
        get_next.status(),
        405,
        "a POST query's next page is POSTed, not GET"
    );
    let search =
        urlencoding::encode(r#"{"filter":[{"op":"eq","field":"title","value":"Ticket 7"}]}"#)
            .into_owned();
    let found: Value =
        common::fetch(http.get(format!("{base}v1.0/tickets/query?search={search}"))).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["title"], "Ticket 7");
    assert!(found["items"][0]["ticketNumber"]
        .as_str()
        .unwrap()
        .starts_with('T'));
}

#[tokio::test]
async fn validation_and_auth_answers() {
    let sim = common::sim().await;
    let http = common::api_client();
    let base = sim.api_url();
    let r = reqwest::get(format!("{base}V1.0/Tickets/1")).await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert!(body["errors"][0].is_string());
    let r = http
        .post(format!("{base}V1.0/Tickets"))
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let body: Value = r.json().await.unwrap();
    assert!(body["errors"][0].as_str().unwrap().contains("companyID"));
    let r = http.post(format!("{base}V1.0/Tickets")).json(&json!({"title": "x", "companyID": 0, "status": 1, "priority": 2, "assignedResourceID": 29682885})).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["errors"][0]
        .as_str()
        .unwrap()
        .contains("assignedResourceRoleID"));
    let r = http.post(format!("{base}V1.0/Tickets")).json(&json!({"title": "x", "companyID": 0, "status": 77, "priority": 2, "queueID": 29682833})).send().await.unwrap();
    assert_eq!(r.status(), 500);
    let r = http.post(format!("{base}V1.0/Tickets")).json(&json!({"title": "ok", "companyID": 0, "status": 1, "priority": 2, "queueID": 29682833})).send().await.unwrap();
    let id = r.json::<Value>().await.unwrap()["itemId"].as_i64().unwrap();
    let item: Value = common::fetch(http.get(format!("{base}V1.0/Tickets/{id}"))).await;
    assert_eq!(item["item"]["queueID"], 29682833);
    let missing: Value = common::fetch(http.get(format!("{base}V1.0/Tickets/424242"))).await;
    assert!(missing["item"].is_null());
    let bad_filter = http
        .post(format!("{base}V1.0/Tickets/query"))
        .json(&json!({"filter": [{"op": "like", "field": "title", "value": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_filter.status(), 500);
    let too_many = http
        .post(format!("{base}V1.0/Tickets/query"))
        .json(&json!({"filter": [{"op": "exist", "field": "id"}], "MaxRecords": 501}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_many.status(), 500);
    let zone = reqwest::get(format!(
        "{}v1.0/zoneInformation?user=",
        sim.zone_discovery_url()
    ))
    .await
    .unwrap();
    assert_eq!(zone.status(), 500);
    let threshold: Value =
        common::fetch(http.get(format!("{base}V1.0/ThresholdInformation"))).await;
    assert_eq!(threshold["externalRequestThreshold"], 10000);
    assert!(threshold["currentTimeframeRequestCount"].as_u64().unwrap() > 0);
    let note = http
        .post(format!("{base}V1.0/Tickets/{id}/Notes"))
        .json(&json!({"description": "n", "noteType": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(note.status(), 500, "publish is required");
    let writes = sim.control().writes_by("bridge@example.com");
    assert_eq!(
        writes.len(),
        1,
        "only the one successful create counts as a write"
    );
}

#[tokio::test]
async fn notes_bump_the_watermark_and_sim_inspection_works() {
    let sim = common::sim().await;
    let c = common::connector(common::settings(&sim));
    let t = sim.user_create_ticket("Printer", "jammed", "Level I Support", "Low");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mid = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(c.changed_since(mid).await.unwrap().is_empty());
    sim.user_add_note(t.id, "Public answer", false, "Pat Customer-Facing");
    let hints = c.changed_since(mid).await.unwrap();
    assert_eq!(hints.len(), 1, "a note makes the ticket show up in polling");
    let notes = sim.notes(t.id);
    assert_eq!(notes.len(), 1);
    assert!(!notes[0].internal);
    assert_eq!(notes[0].author, "Pat Customer-Facing");
    let comments = c.list_comments(&t.id.to_string()).await.unwrap();
    assert_eq!(comments[0].visibility, psa_connector::Visibility::Public);
    assert!(sim
        .ticket(t.id)
        .unwrap()
        .number
        .starts_with(&format!("T{}", Utc::now().format("%Y%m%d"))));
}

#[tokio::test]
async fn notes_are_polled_even_when_the_ticket_watermark_stays() {
    let sim = common::sim().await;
    // Whether a note moves lastTrackedModificationDateTime is unconfirmed: assume it does not.
    sim.set_notes_touch_tracked(false);
    let c = common::connector(common::settings(&sim));
    let t = sim.user_create_ticket("Printer", "jammed", "Level I Support", "Low");
    let other = sim.user_create_ticket("Other", "quiet", "Level I Support", "Low");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mid = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let tracked = sim.ticket(t.id).unwrap().last_modified;
    sim.user_add_note(t.id, "Customer called back", false, "Pat Customer-Facing");
    sim.user_add_note(t.id, "Second call", true, "Tina Tech");
    assert_eq!(
        sim.ticket(t.id).unwrap().last_modified,
        tracked,
        "the knob keeps the ticket's watermark still"
    );
    c.discover().await.unwrap();
    let before = sim.control().requests().len();
    let hints = c.changed_since(mid).await.unwrap();
    assert_eq!(hints.len(), 1, "one hint for the noted ticket: {hints:?}");
    assert_eq!(hints[0].ticket_id, t.id.to_string());
    assert!(hints[0].updated_at.is_some_and(|at| at >= mid));
    let polled: Vec<String> = sim.control().requests()[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        polled,
        ["POST /ATServicesRest/V1.0/Tickets/query"],
        "one query per poll"
    );
    assert!(!hints.iter().any(|h| h.ticket_id == other.id.to_string()));
    // A later poll window without new notes reports nothing.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(c.changed_since(Utc::now()).await.unwrap().is_empty());
}
