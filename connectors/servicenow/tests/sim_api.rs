//! The simulator's Table API against hand-written expectations: envelopes,
//! paging and `Link` headers, encoded-query operators, data policies,
//! reference rendering, OAuth token expiry and refresh, the rate-limit rule.

use std::time::Duration;

use psa_servicenow::{ServiceNowSim, ServiceNowSimOptions};
use serde_json::{json, Value};

const USER: &str = "bridge.integration";
const PASSWORD: &str = "demo-password";

async fn sim() -> ServiceNowSim {
    ServiceNowSim::start_local(ServiceNowSimOptions::default())
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(sim: &ServiceNowSim, path_and_query: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path_and_query}", sim.instance_url()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap()
}

async fn send(
    sim: &ServiceNowSim,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let r = client()
        .request(method, format!("{}{path}", sim.instance_url()))
        .basic_auth(USER, Some(PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn paging_total_count_and_link_headers() {
    let sim = sim().await;
    for n in 0..5 {
        sim.user_create_incident(&format!("page test {n}"), "");
    }
    let r = get(
        &sim,
        "/api/now/table/incident?sysparm_query=short_descriptionSTARTSWITHpage%20test&sysparm_limit=2&sysparm_fields=number",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-total-count"], "5");
    let origin = sim.instance_url();
    let page = |offset: i64| {
        format!(
            "<{origin}/api/now/table/incident?sysparm_fields=number&sysparm_limit=2&sysparm_query=short_descriptionSTARTSWITHpage+test&sysparm_offset={offset}>"
        )
    };
    let expected = format!(
        "{};rel=\"first\",{};rel=\"prev\",{};rel=\"next\",{};rel=\"last\"",
        page(0),
        page(-1),
        page(2),
        page(4)
    );
    assert_eq!(r.headers()["link"].to_str().unwrap(), expected);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["result"].as_array().unwrap().len(), 2);
    assert_eq!(body["result"][0], json!({"number": "INC0010001"}));

    // The last page has no next.
    let r = get(
        &sim,
        "/api/now/table/incident?sysparm_query=short_descriptionSTARTSWITHpage%20test&sysparm_limit=2&sysparm_offset=4&sysparm_fields=number",
    )
    .await;
    let expected = format!(
        "{};rel=\"first\",{};rel=\"prev\",{};rel=\"last\"",
        page(0),
        page(2),
        page(4)
    );
    assert_eq!(r.headers()["link"].to_str().unwrap(), expected);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["result"], json!([{"number": "INC0010005"}]));

    // Suppressed Link; no match gives an empty list.
    let r = get(
        &sim,
        "/api/now/v2/table/incident?sysparm_query=number=NOPE&sysparm_suppress_pagination_header=true",
    )
    .await;
    assert!(r.headers().get("link").is_none());
    assert_eq!(r.headers()["x-total-count"], "0");
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"result": []}));
}

async fn numbers(sim: &ServiceNowSim, query: &str) -> Vec<String> {
    let q = urlencoding::encode(query);
    let body: Value = get(
        sim,
        &format!("/api/now/table/incident?sysparm_fields=number&sysparm_query={q}"),
    )
    .await
    .json()
    .await
    .unwrap();
    body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn encoded_query_operators() {
    let sim = sim().await;
    let a = sim.user_create_incident("VPN down at site B", "");
    let b = sim.user_create_incident("Printer jam", "");
    let c = sim.user_create_incident("vpn slow", "");
    sim.user_update(&b.sys_id, &[("impact", "1"), ("urgency", "1")])
        .unwrap();
    sim.user_set_assignment_group(&c.sys_id, "MSP Escalation")
        .unwrap();
    let (na, nb, nc) = (a.number.clone(), b.number.clone(), c.number.clone());
    assert_eq!(
        numbers(&sim, "short_descriptionLIKEvpn").await,
        vec![na.clone(), nc.clone()]
    );
    assert_eq!(
        numbers(&sim, "short_descriptionSTARTSWITHPrinter").await,
        vec![nb.clone()]
    );
    assert_eq!(numbers(&sim, "priority=1").await, vec![nb.clone()]);
    assert_eq!(
        numbers(&sim, "priority!=1").await,
        vec![na.clone(), nc.clone()]
    );
    assert_eq!(numbers(&sim, "priority<=1").await, vec![nb.clone()]);
    assert_eq!(
        numbers(&sim, "priority>1").await,
        vec![na.clone(), nc.clone()]
    );
    assert_eq!(
        numbers(&sim, &format!("numberIN{na},{nc}")).await,
        vec![na.clone(), nc.clone()]
    );
    assert_eq!(
        numbers(&sim, "priority=1^ORshort_descriptionLIKEslow").await,
        vec![nb.clone(), nc.clone()]
    );
    assert_eq!(
        numbers(&sim, "short_descriptionLIKEvpn^priority=5").await,
        vec![na.clone(), nc.clone()]
    );
    assert_eq!(
        numbers(&sim, "assignment_group.name=MSP Escalation").await,
        vec![nc.clone()]
    );
    // Unknown field: the clause is ignored.
    assert_eq!(
        numbers(&sim, "u_no_such_field=1^priority=1").await,
        vec![nb.clone()]
    );
    // Ordering.
    assert_eq!(
        numbers(&sim, "ORDERBYDESCnumber").await,
        vec![nc.clone(), nb.clone(), na.clone()]
    );
    assert_eq!(
        numbers(&sim, "ORDERBYpriority^ORDERBYDESCnumber").await,
        vec![nb, nc, na]
    );
}

#[tokio::test]
async fn values_are_strings_and_references_render_three_ways() {
    let sim = sim().await;
    let inc = sim.user_create_incident("Render me", "");
    sim.user_set_assignment_group(&inc.sys_id, "Network")
        .unwrap();
    let group = sim.sys_id_of("sys_user_group", "Network").unwrap();
    let path = format!(
        "/api/now/table/incident/{}?sysparm_fields=assignment_group,state,sys_mod_count",
        inc.sys_id
    );
    let plain: Value = get(&sim, &path).await.json().await.unwrap();
    assert_eq!(
        plain["result"]["assignment_group"],
        json!({"link": format!("{}/api/now/table/sys_user_group/{group}", sim.instance_url()), "value": group})
    );
    assert_eq!(plain["result"]["state"], "1");
    assert_eq!(plain["result"]["sys_mod_count"], "1");
    let excluded: Value = get(&sim, &format!("{path}&sysparm_exclude_reference_link=true"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(excluded["result"]["assignment_group"], json!(group));
    let labels: Value = get(
        &sim,
        &format!("{path}&sysparm_display_value=true&sysparm_exclude_reference_link=true"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(labels["result"]["assignment_group"], "Network");
    assert_eq!(labels["result"]["state"], "New");
    let all: Value = get(
        &sim,
        &format!("{path}&sysparm_display_value=all&sysparm_exclude_reference_link=true"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        all["result"]["state"],
        json!({"display_value": "New", "value": "1"})
    );
    assert_eq!(
        all["result"]["assignment_group"],
        json!({"display_value": "Network", "value": group})
    );
    // Missing record: the platform's error body.
    let r = get(
        &sim,
        "/api/now/table/incident/0123456789abcdef0123456789abcdef",
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts the record retrieval"}, "status": "failure"})
    );
}

#[tokio::test]
async fn priority_data_policies_and_journal() {
    let sim = sim().await;
    let (status, created) = send(
        &sim,
        reqwest::Method::POST,
        "/api/now/table/incident",
        json!({"short_description": "Policy", "impact": "1", "urgency": "2", "priority": "5", "comments": "first"}),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["result"]["sys_id"].as_str().unwrap().to_string();
    assert_eq!(
        created["result"]["priority"], "2",
        "priority comes from the matrix"
    );
    let path = format!("/api/now/table/incident/{id}");
    let (status, body) = send(&sim, reqwest::Method::PATCH, &path, json!({"state": "6"})).await;
    assert_eq!(status, 403);
    assert_eq!(body["status"], "failure");
    let detail = body["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("Data Policy Exception") && detail.contains("Resolution code"),
        "{detail}"
    );
    let (status, _) = send(&sim, reqwest::Method::PATCH, &path, json!({"state": 3})).await;
    assert_eq!(status, 403, "On Hold needs hold_reason");
    let (status, body) = send(
        &sim,
        reqwest::Method::PATCH,
        &path,
        json!({"state": "6", "close_code": "Solved (Permanently)", "close_notes": "done", "work_notes": "internal"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["state"], "6");
    assert_eq!(body["result"]["sys_mod_count"], "1");
    let journal = sim.journal(&id);
    assert_eq!(
        journal
            .iter()
            .map(|e| (e.element.as_str(), e.value.as_str()))
            .collect::<Vec<_>>(),
        vec![("comments", "first"), ("work_notes", "internal")]
    );
    let q = format!("/api/now/table/sys_journal_field?sysparm_query=element_id={id}^elementINcomments,work_notes^ORDERBYsys_created_on");
    let rows: Value = get(&sim, &q).await.json().await.unwrap();
    assert_eq!(rows["result"][1]["element"], "work_notes");
    assert_eq!(rows["result"][1]["name"], "incident");
    // The journal is read-only.
    let (status, _) = send(
        &sim,
        reqwest::Method::POST,
        "/api/now/table/sys_journal_field",
        json!({"value": "x"}),
    )
    .await;
    assert_eq!(status, 403);
}

async fn token(sim: &ServiceNowSim, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client()
        .post(format!("{}/oauth_token.do", sim.instance_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn oauth_tokens_expire_and_refresh() {
    let sim = sim().await;
    // JSON is refused: the endpoint is form-encoded only.
    let r = client()
        .post(format!("{}/oauth_token.do", sim.instance_url()))
        .json(&json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (status, t) = token(
        &sim,
        &[
            ("grant_type", "password"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-client-secret"),
            ("username", USER),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 1799);
    let access = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let with = |token: String| {
        let url = format!("{}/api/now/table/incident", sim.instance_url());
        async move {
            client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(with(access.clone()).await, 200);
    sim.expire_tokens();
    assert_eq!(with(access).await, 401);
    let (status, t) = token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-client-secret"),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        with(t["access_token"].as_str().unwrap().to_string()).await,
        200
    );
    let (status, _) = token(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(sim.token_grants(), vec!["password", "refresh_token"]);
}

#[tokio::test]
async fn rate_limit_rule_answers_429_with_headers() {
    let sim = sim().await;
    sim.set_rate_limit_rule(Some((2, Duration::from_secs(3600))));
    for _ in 0..2 {
        let r = get(&sim, "/api/now/table/incident").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit"], "2");
        assert!(r.headers().get("x-ratelimit-rule").is_some());
        assert!(r.headers().get("x-ratelimit-remaining").is_none());
    }
    let r = get(&sim, "/api/now/table/incident").await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 3000 && wait <= 3600, "{wait}");
    let reset: i64 = r.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > chrono::Utc::now().timestamp());
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "failure");
    // Unauthenticated requests get the platform's 401 body.
    let r = client()
        .get(format!("{}/api/now/table/incident", sim.instance_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn fault_knobs_answer_with_the_platform_error_body() {
    let sim = sim().await;
    let inc = sim.user_create_incident("Faults", "");
    let path = format!("/api/now/table/incident/{}", inc.sys_id);
    sim.control().fail_next_writes(&[503]);
    let (status, body) = send(
        &sim,
        reqwest::Method::PATCH,
        &path,
        json!({"short_description": "x"}),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "failure");
    assert_eq!(
        sim.incident(&inc.sys_id).unwrap().short_description,
        "Faults"
    );
    // An ambiguous write is applied, then answered 503.
    sim.control()
        .ambiguous_next_writes(psa_connector::sim::AmbiguousReply::Unavailable, 1);
    let (status, _) = send(
        &sim,
        reqwest::Method::PATCH,
        &path,
        json!({"short_description": "applied"}),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(
        sim.incident(&inc.sys_id).unwrap().short_description,
        "applied"
    );
    sim.control().set_error_rate(1.0);
    let failed = get(&sim, &path).await.status().as_u16();
    assert!([502, 503, 504].contains(&failed), "{failed}");
    sim.control().set_error_rate(0.0);
    assert_eq!(get(&sim, &path).await.status(), 200);
    // Writes are counted per API user.
    assert_eq!(sim.control().writes_by(USER).len(), 1);
}
