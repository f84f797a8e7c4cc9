//! One MSP connection shared by three client pairings (issue 10): Acme on
//! Autotask, Contoso on ServiceNow, Fabrikam on Jira, each a company on the
//! MSP's ConnectWise (`psa_bridge::demo::shared`). The three stories run at
//! once in one daemon (escalate, a note each way, a status each way, an
//! internal note that stays, resolution); each ends as expected and
//! nothing of one client (ticket, note, audit entry, metric label) shows up
//! in another's. The shared connection registers its callback once, polls
//! once per round and keeps one rate budget. Then one of Acme's ConnectWise
//! tickets is moved to Contoso's company: its link stops syncing (audited
//! warning, shown by `audit` and `outbox`), nothing is written into it or
//! into Contoso's tickets while it sits there, and moving it back resumes.
//! Last, the MSP opens a ticket for Contoso on its board: only Contoso's
//! pairing takes it (`[reverse_trigger]` within the pairing's scope).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use psa_bridge::demo::desk::Desk;
use psa_bridge::demo::shared::{Client, CLIENTS, MSP_BOARD};
use psa_bridge::demo::{wait_for, DemoEnv, DemoOptions, System};

use crate::common::{audit_history, cli, env, settled_by, text, Bridge};

const STEP: Duration = Duration::from_secs(60);
/// Requests per second and burst of every connection.
const LIMITS: (u32, u32) = (10, 5);

/// One client's played story: its two tickets.
#[derive(Debug, Clone)]
struct Played {
    client: &'static Client,
    internal_id: String,
    internal_number: String,
    msp_id: String,
}

fn tag(client: &Client) -> String {
    format!("[{}]", client.name)
}

/// Opens and escalates a ticket on the client's system; waits for the MSP
/// ticket and the write-back.
async fn escalate(env: &DemoEnv, client: &'static Client, title: &str) -> Played {
    let internal = env.desk(client.internal);
    let msp = env.desk(System::Connectwise);
    let t = internal.open(
        &format!("{} {title}", tag(client)),
        &format!("{} users cannot connect", tag(client)),
        client.script.internal_high,
    );
    internal.escalate(&t.id);
    let far = wait_for(
        &format!("{}: the MSP ticket number written back", client.name),
        STEP,
        || {
            let number = internal.ticket(&t.id)?.far_number?;
            let noted = internal
                .notes(&t.id)
                .iter()
                .any(|n| n.text.contains(&format!("#{number}")));
            noted.then_some(number)
        },
    )
    .await
    .unwrap();
    let msp_id = wait_for("the MSP ticket", STEP, || msp.id_of_number(&far))
        .await
        .unwrap();
    Played {
        client,
        internal_id: t.id,
        internal_number: t.number,
        msp_id,
    }
}

fn has_note(desk: &dyn Desk, id: &str, text: &str, public: bool) -> bool {
    desk.notes(id)
        .iter()
        .any(|n| n.text.contains(text) && n.public == public)
}

/// The whole story for one client.
async fn play(env: &DemoEnv, client: &'static Client) -> Played {
    let played = escalate(env, client, "VPN down").await;
    let (internal, msp) = (env.desk(client.internal), env.desk(System::Connectwise));
    let (s, tag) = (client.script, tag(client));
    let (iid, mid) = (&played.internal_id, &played.msp_id);

    msp.set_status(mid, s.msp_in_progress);
    msp.add_note(mid, &format!("{tag} MSP looks at the logs"), true, "jsmith");
    msp.add_note(mid, &format!("{tag} MSP internal remark"), false, "jsmith");
    wait_for(
        &format!("{}: MSP status and note", client.name),
        STEP,
        || {
            let ok = internal.ticket(iid)?.status == s.internal_in_progress
                && has_note(internal.as_ref(), iid, &format!("{tag} MSP looks"), true);
            ok.then_some(())
        },
    )
    .await
    .unwrap();

    internal.add_note(iid, &format!("{tag} tech replies"), true, "Tina");
    internal.add_note(iid, &format!("{tag} tech internal remark"), false, "Tina");
    internal.set_priority(iid, s.internal_critical);
    wait_for(
        &format!("{}: reply and priority", client.name),
        STEP,
        || {
            let ok = msp.ticket(mid)?.priority == s.msp_critical
                && has_note(msp.as_ref(), mid, &format!("{tag} tech replies"), true);
            ok.then_some(())
        },
    )
    .await
    .unwrap();

    msp.add_resolution(mid, &format!("{tag} replaced the certificate"), "jsmith");
    msp.set_status(mid, s.msp_closed);
    wait_for(&format!("{}: resolution", client.name), STEP, || {
        let ok = internal.ticket(iid)?.status == s.internal_done
            && internal
                .notes(iid)
                .iter()
                .any(|n| n.text.contains(&format!("{tag} replaced the certificate")));
        ok.then_some(())
    })
    .await
    .unwrap();
    played
}

/// Every desk's ticket count and the bridge's writes, for settling.
fn writes(env: &DemoEnv) -> Vec<usize> {
    [
        System::Autotask,
        System::Connectwise,
        System::Servicenow,
        System::Jira,
    ]
    .iter()
    .map(|s| env.desk(*s).bridge_writes())
    .collect()
}

/// The notes of both tickets of `played`, as text.
fn notes_of(env: &DemoEnv, played: &Played) -> Vec<String> {
    let internal = env.desk(played.client.internal);
    let msp = env.desk(System::Connectwise);
    internal
        .notes(&played.internal_id)
        .into_iter()
        .chain(msp.notes(&played.msp_id))
        .map(|n| n.text)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_share_one_msp_connection_and_never_see_each_other() {
    let options = DemoOptions {
        limits: Some(LIMITS),
        ..DemoOptions::default()
    };
    let (_dir, env) = env(options.clone()).await;
    env.write_shared_config(&options).unwrap();
    let cw_before = env.connectwise.tickets().len();
    let started = Instant::now();
    let bridge = Bridge::spawn(&env.config_path).await;
    env.connect_servicenow_notifications(bridge.addr);

    // The three stories at once.
    let (acme, contoso, fabrikam) = tokio::join!(
        play(&env, &CLIENTS[0]),
        play(&env, &CLIENTS[1]),
        play(&env, &CLIENTS[2])
    );
    let played = [acme.clone(), contoso.clone(), fabrikam.clone()];
    eprintln!("{:?}: stories played and settled", started.elapsed());
    settled_by(&env, &bridge, || writes(&env)).await;

    // Each client's MSP ticket is in its own company, one each.
    assert_eq!(env.connectwise.tickets().len(), cw_before + 3);
    for p in &played {
        let t = env.connectwise.ticket(p.msp_id.parse().unwrap()).unwrap();
        assert_eq!(t.company, p.client.company, "{p:?}");
    }
    // No note of one client on another's tickets; internal notes stayed.
    for p in &played {
        let notes = notes_of(&env, p);
        for other in CLIENTS.iter().filter(|c| c.name != p.client.name) {
            let leaked: Vec<&String> = notes.iter().filter(|n| n.contains(&tag(other))).collect();
            assert!(
                leaked.is_empty(),
                "{} sees {}: {leaked:?}",
                p.client.name,
                other.name
            );
        }
        let internal = env.desk(p.client.internal);
        let msp = env.desk(System::Connectwise);
        assert!(!internal
            .notes(&p.internal_id)
            .iter()
            .any(|n| n.text.contains("MSP internal remark")));
        assert!(!msp
            .notes(&p.msp_id)
            .iter()
            .any(|n| n.text.contains("tech internal remark")));
    }
    // Metric labels: series of one pairing name no other client's pairing or connection.
    let metrics = scrape(&bridge).await;
    assert_metric_labels_isolated(&metrics);
    // The shared connection: one callback registration, one poller, one budget.
    let requests = env.connectwise.control().requests();
    let registrations = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/system/callbacks"))
        .count();
    assert_eq!(registrations, 1, "ConnectWise callback registered once");
    let rounds = polls(&metrics, "connectwise");
    let secs = started.elapsed().as_secs();
    assert!(
        rounds <= secs / options.poll_interval_secs + 2,
        "{rounds} poll rounds in {secs} s: polled more than once per interval"
    );
    let listings = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/service/tickets"))
        .count() as u64;
    assert!(
        listings <= rounds + 12,
        "{listings} ticket listings for {rounds} poll rounds (and 3 creates)"
    );
    // Arrival times jitter by a few milliseconds on loopback (as in `rate.rs`).
    let user = psa_connectwise::sim::ConnectWiseSimOptions::default().public_key;
    let busiest = env
        .connectwise
        .control()
        .max_requests_in_window(Some(&user), Duration::from_millis(980));
    assert!(
        busiest <= (LIMITS.0 + LIMITS.1) as usize,
        "{busiest} requests in one second to the shared connection: one budget is {LIMITS:?}"
    );

    eprintln!("{:?}: checks done", started.elapsed());
    // A second Acme ticket, then moved to Contoso's company.
    let acme2 = escalate(&env, &CLIENTS[0], "Printer on fire").await;
    let moved: i64 = acme2.msp_id.parse().unwrap();
    settled_by(&env, &bridge, || writes(&env)).await;
    let msp = env.desk(System::Connectwise);
    let at = env.desk(System::Autotask);
    let moved_notes = msp.notes(&acme2.msp_id).len();
    let moved_priority = msp.ticket(&acme2.msp_id).unwrap().priority;
    let contoso_before = (
        notes_of(&env, &contoso).len(),
        env.servicenow.incidents().len(),
    );
    eprintln!(
        "{:?}: second ticket escalated and settled",
        started.elapsed()
    );
    // Acme's side changes while ConnectWise refuses writes: the note and
    // the priority wait in the outbox for a retry.
    let cw = env.connectwise.control();
    cw.fail_next_writes(&[503; 1000]);
    at.add_note(&acme2.internal_id, "[acme] after the move", true, "Tina");
    at.set_priority(&acme2.internal_id, "Critical");
    let key = format!("connectwise:{moved}");
    let config = env.config_path.to_str().unwrap().to_string();
    // (The note waits behind the update: one queue per ticket.)
    wait_for_ops(&bridge, &key, |ops| {
        ops.len() >= 2 && ops.iter().any(|op| op["attempts"].as_u64() >= Some(1))
    })
    .await;
    eprintln!("{:?}: write failed, moving the ticket", started.elapsed());

    // Someone moves the ticket to Contoso's company: the link is held.
    env.connectwise.user_set_company(moved, "Contoso");
    wait_for_output(
        "the out_of_scope audit entry",
        &["audit", "--config", &config, "--ticket", &key],
        "out_of_scope",
    )
    .await;
    cw.clear_queued_failures();
    msp.set_status(&acme2.msp_id, "Waiting Customer");
    let outbox = text(&cli(&["outbox", "list", "--config", &config]).await);
    assert!(
        outbox.contains("HELD: WARNING: link out of scope") && outbox.contains(&key),
        "{outbox}"
    );
    let links = text(&cli(&["links", "list", "--config", &config, "--pairing", "acme"]).await);
    assert!(links.contains("WARNING: link out of scope"), "{links}");
    eprintln!("{:?}: held", started.elapsed());
    // The held operations' retry time passes and two more poll rounds
    // (the status change read) go by: still nothing delivered or read.
    let ops = wait_for_ops(&bridge, &key, |ops| ops.len() >= 2).await;
    let due = ops
        .iter()
        .filter_map(|op| op["next_attempt_unix_ms"].as_i64())
        .max()
        .unwrap();
    wait_for("the held operations' retry time", STEP, || {
        (chrono::Utc::now().timestamp_millis() > due + 500).then_some(())
    })
    .await
    .unwrap();
    let rounds = polls(&scrape(&bridge).await, "connectwise");
    let deadline = Instant::now() + STEP;
    while polls(&scrape(&bridge).await, "connectwise") < rounds + 2 {
        assert!(Instant::now() < deadline, "ConnectWise is not polled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        wait_for_ops(&bridge, &key, |ops| ops.len() >= 2)
            .await
            .len(),
        2
    );
    assert_eq!(
        msp.notes(&acme2.msp_id).len(),
        moved_notes,
        "nothing written into it"
    );
    assert_eq!(msp.ticket(&acme2.msp_id).unwrap().priority, moved_priority);
    assert_ne!(
        at.ticket(&acme2.internal_id).unwrap().status,
        "Waiting Customer",
        "nothing read from it"
    );
    assert_eq!(
        (
            notes_of(&env, &contoso).len(),
            env.servicenow.incidents().len()
        ),
        contoso_before,
        "Contoso's tickets untouched"
    );
    assert_eq!(env.connectwise.tickets().len(), cw_before + 4);
    let history = audit_history(&env, &key).await;
    assert_eq!(history.matches("out_of_scope").count(), 1, "{history}");
    assert!(history.contains("WARNING"), "{history}");

    eprintln!("{:?}: held checks done", started.elapsed());
    // Back in Acme's company: syncing resumes both ways.
    env.connectwise.user_set_company(moved, "ACME");
    wait_for("syncing to resume", STEP, || {
        let t = msp.ticket(&acme2.msp_id)?;
        let ok = t.priority == "Priority 1 - Emergency Response"
            && has_note(msp.as_ref(), &acme2.msp_id, "[acme] after the move", true)
            && at.ticket(&acme2.internal_id)?.status == "Waiting Customer";
        ok.then_some(())
    })
    .await
    .unwrap();
    settled_by(&env, &bridge, || writes(&env)).await;
    let history = audit_history(&env, &key).await;
    assert!(history.contains("back_in_scope"), "{history}");
    let copies = msp
        .notes(&acme2.msp_id)
        .iter()
        .filter(|n| n.text.contains("[acme] after the move"))
        .count();
    assert_eq!(copies, 1, "the held note is delivered once");
    eprintln!("{:?}: resumed", started.elapsed());

    // The MSP opens work for Contoso: only Contoso's ServiceNow gets it.
    let (at_count, jira_count) = (env.autotask.tickets().len(), env.jira.issues().len());
    let opened = env.connectwise.user_create_ticket(
        "[msp] New printer for the second floor",
        MSP_BOARD,
        "Contoso",
        "Priority 3 - Normal Response",
    );
    let incident = wait_for("the MSP's ticket on Contoso's ServiceNow", STEP, || {
        env.servicenow
            .incidents()
            .into_iter()
            .find(|i| i.short_description.contains("[msp] New printer"))
    })
    .await
    .unwrap();
    assert_eq!(
        incident.short_description,
        format!(
            "MSP: [msp] New printer for the second floor [{}]",
            opened.id
        )
    );
    settled_by(&env, &bridge, || writes(&env)).await;
    assert_eq!(
        (env.autotask.tickets().len(), env.jira.issues().len()),
        (at_count, jira_count),
        "Acme and Fabrikam do not get Contoso's work"
    );
    let copies = env
        .servicenow
        .incidents()
        .iter()
        .filter(|i| i.short_description.contains("[msp] New printer"))
        .count();
    assert_eq!(copies, 1);
    let contoso_new = Played {
        client: &CLIENTS[1],
        internal_id: incident.sys_id.clone(),
        internal_number: incident.number.clone(),
        msp_id: opened.id.to_string(),
    };
    eprintln!("{:?}: reverse escalation done", started.elapsed());
    bridge.stop().await;

    // Audit entries of one pairing name only that pairing's tickets.
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let store = psa_bridge::store::Store::open(&loaded.store_path).unwrap();
    let mut own: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for p in played.iter().chain([&acme2, &contoso_new]) {
        let conn = p.client.internal.connection();
        own.entry(p.client.name).or_default().extend([
            format!("{conn}:{}", p.internal_id),
            format!("{conn}:{}", p.internal_number),
            format!("connectwise:{}", p.msp_id),
        ]);
    }
    for entry in store.audit_entries().unwrap() {
        let Some(pairing) = &entry.pairing else {
            continue;
        };
        let mine = &own[pairing.as_str()];
        for ticket in &entry.tickets {
            assert!(
                mine.contains(ticket),
                "audit entry #{} of {pairing} names {ticket}: {}",
                entry.seq,
                entry.message
            );
        }
        for other in CLIENTS.iter().filter(|c| c.name != pairing) {
            assert!(
                !entry.message.contains(&tag(other)),
                "audit entry #{} of {pairing} quotes {}: {}",
                entry.seq,
                other.name,
                entry.message
            );
        }
    }
}

/// The daemon's metrics text.
async fn scrape(bridge: &Bridge) -> String {
    reqwest::get(bridge.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until the pending operations concerning `ticket` (admin API)
/// satisfy `ok`; returns them.
async fn wait_for_ops(
    bridge: &Bridge,
    ticket: &str,
    ok: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + STEP;
    loop {
        let page: serde_json::Value =
            serde_json::from_str(&bridge.admin_get("/api/v1/outbox?state=pending").await).unwrap();
        let ops: Vec<serde_json::Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|op| {
                op["tickets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == ticket)
            })
            .cloned()
            .collect();
        if ok(&ops) {
            return ops;
        }
        assert!(Instant::now() < deadline, "outbox for {ticket}: {ops:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `psa-bridge ARGS` prints `wanted`.
async fn wait_for_output(what: &str, args: &[&str], wanted: &str) {
    let deadline = Instant::now() + STEP;
    loop {
        let out = text(&cli(args).await);
        if out.contains(wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {STEP:?}: {out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Poll rounds of `connection` so far (ok and failed).
fn polls(metrics: &str, connection: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("psa_bridge_polls_total{")
                && l.contains(&format!("connection=\"{connection}\""))
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Every series labelled with one client's pairing carries no other
/// client's pairing name or internal connection in any label.
fn assert_metric_labels_isolated(metrics: &str) {
    let mut seen = 0;
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let Some(labels) = line
            .split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(labels, _)| labels)
        else {
            continue;
        };
        let values: Vec<&str> = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(_, v)| v.trim_matches('"'))
            .collect();
        let Some(client) = CLIENTS
            .iter()
            .find(|c| labels.contains(&format!("pairing=\"{}\"", c.name)))
        else {
            continue;
        };
        seen += 1;
        for other in CLIENTS.iter().filter(|c| c.name != client.name) {
            for forbidden in [other.name, other.internal.connection()] {
                assert!(
                    !values.contains(&forbidden),
                    "series of {} carries {forbidden}: {line}",
                    client.name
                );
            }
        }
    }
    assert!(seen > 0, "no series names a pairing:\n{metrics}");
}
