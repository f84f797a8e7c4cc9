//! `/api/v1/links` through the real daemon: paging with a stable cursor,
//! search by either side's id or number, unlink (the tickets stop syncing
//! and are not escalated again), relink (a change syncs again), and the
//! `links` CLI against the running daemon.

use std::collections::BTreeSet;

use psa_bridge::demo::wait_for;
use serde_json::{json, Value};

use crate::api_steps::{escalate, get, get_ok, post, started};
use crate::common::{cli, settled, text, STEP};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_page_search_unlink_and_relink() {
    let (_dir, env, bridge) = started().await;
    let config = env.config_path.to_str().unwrap().to_string();
    let mut tickets = Vec::new();
    for i in 0..5 {
        tickets.push(escalate(&env, &format!("Laptop {i} broken")).await);
    }
    settled(&env, &bridge).await;

    // Pages of two: 2 + 2 + 1, no repeats, the cursor continues.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/links?pairing=acme&limit=2&cursor={c}"),
            None => "/api/v1/links?pairing=acme&limit=2".to_string(),
        };
        let page = get_ok(&bridge, &path).await;
        seen.extend(ids(&page));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 5, "{seen:?}");
    let all = get_ok(&bridge, "/api/v1/links").await;
    assert_eq!(ids(&all), seen, "oldest first, same order");

    // Search by the Autotask number (any case), Autotask id, ConnectWise id.
    let (at, number, cw) = tickets[2].clone();
    for q in [number.to_lowercase(), at.to_string(), cw.to_string()] {
        let found = get_ok(&bridge, &format!("/api/v1/links?q={q}")).await;
        assert_eq!(
            found["items"].as_array().unwrap().len(),
            1,
            "q={q}: {found:#}"
        );
        let link = &found["items"][0];
        assert_eq!(link["a"]["connection"], "autotask");
        assert_eq!(link["a"]["id"], at.to_string());
        assert_eq!(link["a"]["number"], number.as_str());
        assert_eq!(link["b"]["connection"], "connectwise");
        assert_eq!(link["b"]["id"], cw.to_string());
        assert!(link["linked_unix_ms"].is_i64());
    }
    assert_eq!(
        get_ok(&bridge, "/api/v1/links?q=nothing-like-it").await["items"],
        json!([])
    );
    let (code, body) = get(&bridge, "/api/v1/links?pairing=nope").await;
    assert_eq!(code, 404, "{body}");
    let link_id = get_ok(&bridge, &format!("/api/v1/links?q={at}")).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Relinking a linked ticket is a conflict.
    let (code, body) = post(
        &bridge,
        "/api/v1/links",
        &json!({ "pairing": "acme", "a": at.to_string(), "b": tickets[3].2.to_string() }),
    )
    .await;
    assert_eq!(code, 409, "{body}");

    // Unlink: the link is gone, a change no longer syncs, and the ticket
    // (still in the escalation queue) is not escalated again.
    let (code, body) = post(
        &bridge,
        &format!("/api/v1/links/{link_id}/unlink"),
        &json!({ "reason": "wrong customer" }),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["id"], link_id.as_str());
    let (code, _) = post(
        &bridge,
        &format!("/api/v1/links/{link_id}/unlink"),
        &json!({}),
    )
    .await;
    assert_eq!(code, 404);
    let cw_tickets = env.connectwise.tickets().len();
    let before = env.connectwise.ticket(cw).unwrap();
    env.autotask.user_set_priority(at, "Critical");
    settled(&env, &bridge).await;
    assert_eq!(
        env.connectwise.ticket(cw).unwrap().priority,
        before.priority,
        "still synced"
    );
    assert_eq!(
        env.connectwise.tickets().len(),
        cw_tickets,
        "escalated again"
    );
    assert_eq!(
        get_ok(&bridge, &format!("/api/v1/links?q={at}")).await["items"],
        json!([])
    );
    let history = get_ok(&bridge, &format!("/api/v1/tickets/autotask/{at}/audit")).await;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "unlinked_by_operator"
                && e["message"].as_str().unwrap().contains("wrong customer")),
        "{history:#}"
    );

    // Relink: Autotask (the trigger side) wins at once, and later changes sync.
    let (code, body) = post(
        &bridge,
        "/api/v1/links",
        &json!({ "pairing": "acme", "a": at.to_string(), "b": cw.to_string() }),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["a"]["id"], at.to_string());
    assert_eq!(body["b"]["id"], cw.to_string());
    wait_for("the relinked priority", STEP, || {
        (env.connectwise.ticket(cw)?.priority == "Priority 1 - Emergency Response").then_some(())
    })
    .await
    .unwrap();
    let description = env.autotask.ticket(at).unwrap().description;
    env.autotask
        .user_set_text(at, "Laptop 2 broken again", &description);
    wait_for("a later change", STEP, || {
        env.connectwise
            .ticket(cw)?
            .summary
            .contains("again")
            .then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    assert_eq!(env.connectwise.tickets().len(), cw_tickets, "no new ticket");

    // The CLI: list, search, unlink, relink (by the Autotask number)
    // through the running daemon.
    let listed = cli(&["links", "list", "--limit", "2", "--config", &config]).await;
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(
        text(&listed).contains("more: --cursor"),
        "{}",
        text(&listed)
    );
    let found = cli(&["links", "list", "--q", &number, "--config", &config]).await;
    assert!(text(&found).contains(&number), "{}", text(&found));
    let relinked_id = body["id"].as_str().unwrap();
    let out = cli(&[
        "links",
        "unlink",
        relinked_id,
        "--reason",
        "cli",
        "--config",
        &config,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let again = cli(&["links", "unlink", relinked_id, "--config", &config]).await;
    assert!(!again.status.success(), "{}", text(&again));
    let out = cli(&[
        "links",
        "relink",
        "--pairing",
        "acme",
        &number,
        &cw.to_string(),
        "--config",
        &config,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&number), "{}", text(&out));
    settled(&env, &bridge).await;
    bridge.stop().await;
}
