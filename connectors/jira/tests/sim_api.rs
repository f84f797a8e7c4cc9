//! The simulator's API contract and the connector's behaviour around it:
//! search/jql token paging against a hand-written expectation, the removed
//! search endpoint, ADF both ways, comment visibility and hostile answers.

mod common;

use psa_connector::{Connector, NewComment, NewTicket, Visibility};
use serde_json::{json, Value};

async fn post(sim: &psa_jira::JiraSim, path: &str, body: Value) -> (u16, Value) {
    let r = common::raw_client(sim)
        .post(format!("{}{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn search_jql_pages_with_tokens_and_the_old_search_is_gone() {
    let sim = common::start_sim().await;
    for n in 0..5 {
        sim.user_create_issue("DEV", &format!("Issue {n}"), "", "Medium")
            .unwrap();
    }
    sim.user_create_issue("HELP", "Other project", "", "Medium")
        .unwrap();
    let jql = "project = DEV ORDER BY key ASC";
    let (status, first) = post(
        &sim,
        "rest/api/3/search/jql",
        json!({"jql": jql, "maxResults": 2, "fields": ["summary"]}),
    )
    .await;
    assert_eq!(status, 200);
    // Hand-written expectation of the contract: no total, no startAt.
    assert_eq!(first["isLast"], json!(false));
    assert!(first.get("total").is_none() && first.get("startAt").is_none());
    let keys = |page: &Value| {
        page["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&first), ["DEV-1", "DEV-2"]);
    let token = first["nextPageToken"].as_str().unwrap().to_string();
    let (_, second) = post(
        &sim,
        "rest/api/3/search/jql",
        json!({"jql": jql, "maxResults": 2, "fields": ["summary"], "nextPageToken": token}),
    )
    .await;
    assert_eq!(keys(&second), ["DEV-3", "DEV-4"]);
    let token = second["nextPageToken"].as_str().unwrap().to_string();
    let (_, last) = post(
        &sim,
        "rest/api/3/search/jql",
        json!({"jql": jql, "maxResults": 2, "fields": ["summary"], "nextPageToken": token}),
    )
    .await;
    assert_eq!(keys(&last), ["DEV-5"]);
    assert_eq!(last["isLast"], json!(true));
    assert!(last.get("nextPageToken").is_none());
    // Without fields only ids come back.
    let (_, bare) = post(&sim, "rest/api/3/search/jql", json!({"jql": jql})).await;
    assert!(bare["issues"][0].get("fields").is_none() && bare["issues"][0]["id"].is_string());
    // A token of another query, an unbounded query, the removed endpoint.
    let (status, body) = post(
        &sim,
        "rest/api/3/search/jql",
        json!({"jql": "project = HELP", "nextPageToken": token}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(
        &sim,
        "rest/api/3/search/jql",
        json!({"jql": "ORDER BY key"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("Unbounded"),
        "{body}"
    );
    let old = common::raw_client(&sim)
        .get(format!(
            "{}rest/api/3/search?jql=project%3DDEV",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status().as_u16(), 410);
    // The connector polls through all pages (more than one page of 100).
    let c = common::connector(&sim, "DEV");
    for n in 0..120 {
        sim.user_create_issue("DEV", &format!("Bulk {n}"), "", "Low")
            .unwrap();
    }
    let hints = c
        .changed_since(chrono::Utc::now() - chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(hints.len(), 125);
    // Only this test's own probe went to the removed endpoint.
    assert_eq!(
        sim.control()
            .requests()
            .iter()
            .filter(|r| r.path == "/rest/api/3/search")
            .count(),
        1
    );
}

#[tokio::test]
async fn rich_adf_reads_as_text_and_text_is_written_as_adf() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim, "HELP");
    let rich = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [
            {"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Jane Doe"}},
            {"type": "text", "text": " see "},
            {"type": "text", "text": "runbook", "marks": [{"type": "link", "attrs": {"href": "https://wiki.example/vpn"}}]}
        ]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Site B"}]}]}
        ]},
        {"type": "codeBlock", "content": [{"type": "text", "text": "ping hq"}]}
    ]});
    let issue = sim
        .user_create_issue_adf("HELP", "VPN", rich, "High")
        .unwrap();
    let t = c.get_ticket(&issue.id).await.unwrap();
    assert_eq!(
        t.description.as_deref(),
        Some("@Jane Doe see runbook (https://wiki.example/vpn)\n\n- Site B\n\n```\nping hq\n```")
    );
    // Text from a plain-text system becomes ADF that renders the same text.
    let text = "Restarted the concentrator.\nTunnel is up.\n\nPlease confirm.";
    let created = c
        .create_ticket(&NewTicket {
            title: "From Autotask".into(),
            description: text.into(),
            status: None,
            priority: Some("Medium".into()),
            marker: "m-adf".into(),
            placement: Default::default(),
            fields: Default::default(),
        })
        .await
        .unwrap();
    let stored = sim.issue(&created.id).unwrap().description.unwrap();
    assert_eq!(stored["type"], "doc");
    assert_eq!(stored["content"].as_array().unwrap().len(), 2);
    assert_eq!(psa_jira::adf::to_text(&stored).unwrap(), text);
    assert_eq!(created.description.as_deref(), Some(text));
}

#[tokio::test]
async fn internal_comments_stay_internal() {
    let sim = common::start_sim().await;
    let desk = common::connector(&sim, "HELP");
    let issue = sim
        .user_create_issue("HELP", "Laptop", "", "Medium")
        .unwrap();
    let note = |v| NewComment {
        body: format!("{v:?} note"),
        visibility: v,
        marker: format!("m-{v:?}"),
        resolution: false,
    };
    desk.add_comment(&issue.id, &note(Visibility::Internal))
        .await
        .unwrap();
    desk.add_comment(&issue.id, &note(Visibility::Public))
        .await
        .unwrap();
    let stored = sim.comments(&issue.key);
    assert_eq!(
        stored.iter().map(|c| c.public).collect::<Vec<_>>(),
        [false, true]
    );
    let listed = desk.list_comments(&issue.id).await.unwrap();
    assert_eq!(listed[0].visibility, Visibility::Internal);
    assert_eq!(listed[0].marker.as_deref(), Some("m-Internal"));
    assert_eq!(listed[0].body, "Internal note");
    assert_eq!(listed[1].visibility, Visibility::Public);
    // Labels and deletion, as a person does them.
    assert!(sim.user_add_label(&issue.key, "escalate"));
    assert_eq!(
        desk.get_ticket(&issue.id).await.unwrap().fields["labels"],
        "escalate"
    );
    // A software project's comments have no customer: internal.
    let dev = common::connector(&sim, "DEV");
    let task = sim.user_create_issue("DEV", "Build", "", "Medium").unwrap();
    sim.user_add_comment(&task.key, "looked at it", true, "Jane Doe")
        .unwrap();
    let listed = dev.list_comments(&task.id).await.unwrap();
    assert_eq!(listed[0].visibility, Visibility::Internal);
    assert_eq!(listed[0].author.as_deref(), Some("Jane Doe"));
    sim.user_delete_issue(&task.key);
    assert!(matches!(
        dev.get_ticket(&task.id).await,
        Err(psa_connector::ConnectorError::NotFound(_))
    ));
}

#[tokio::test]
async fn hostile_answers_give_clear_errors() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim, "HELP");
    // A description nested beyond the renderer's bound still reads, as flat text.
    let deep = |levels: usize| {
        let mut node = json!({"type": "text", "text": "deep"});
        for _ in 0..levels {
            node = json!({"type": "blockquote", "content": [node]});
        }
        json!({"type": "doc", "version": 1, "content": [node]})
    };
    let issue = sim
        .user_create_issue_adf("HELP", "Deep", deep(55), "Medium")
        .unwrap();
    assert_eq!(
        c.get_ticket(&issue.id)
            .await
            .unwrap()
            .description
            .as_deref(),
        Some("deep")
    );
    // Deeper than any JSON reader should follow: a clear, permanent error, no overflow.
    let deeper = sim
        .user_create_issue_adf("HELP", "Deeper", deep(100), "Medium")
        .unwrap();
    let err = c.get_ticket(&deeper.id).await.unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("recursion limit"),
        "{err}"
    );
    // Errors carry Jira's envelope text; throttling is retryable with its wait.
    let err = c.get_ticket("HELP-999").await.unwrap_err();
    assert!(
        matches!(err, psa_connector::ConnectorError::NotFound(_)),
        "{err:?}"
    );
    sim.control().fail_next_write_with_retry_after(429, 7);
    let err = c
        .add_comment(
            &issue.id,
            &NewComment {
                body: "x".into(),
                visibility: Visibility::Public,
                marker: "m1".into(),
                resolution: false,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.retry_action(),
        psa_connector::RetryAction::Retry {
            after: Some(std::time::Duration::from_secs(7))
        }
    );
    let bad = c
        .update_ticket(
            &issue.id,
            &psa_connector::TicketUpdate {
                fields: [("Customer Tier".to_string(), "Platinum".to_string())].into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(!bad.is_retryable());
    assert!(bad.to_string().contains("Platinum"), "{bad}");
    // Wrong credentials: Jira's message, permanent.
    let mut s = common::settings(&sim, "HELP");
    s.api_token = "wrong".into();
    let err = common::connector_with(s)
        .get_ticket(&issue.id)
        .await
        .unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("authenticated"),
        "{err}"
    );
}
