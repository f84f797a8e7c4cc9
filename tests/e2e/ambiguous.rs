//! Writes whose answer is lost: the simulator applies the write, then answers
//! 503 or drops the connection. The retry must look for the bridge's marker
//! first and adopt what it finds: one ticket, one note, adoption audited.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions, AT_USER};
use psa_connector::sim::{AmbiguousReply, RequestRecord};
use psa_connectwise::sim::{ConnectWiseSimOptions, SimNoteKind};

use crate::common::{audit_history, env, settled, Bridge, STEP};

fn is_ticket_create(r: &RequestRecord) -> bool {
    r.method == "POST" && r.path.ends_with("/service/tickets")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_was_lost_is_adopted_not_repeated() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let cw = env.connectwise.control();
    cw.ambiguous_next_writes_to(AmbiguousReply::Dropped, 1, "/service/tickets");
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    settled(&env, &bridge).await;

    assert_eq!(env.connectwise.tickets().len(), 1, "one ticket");
    let user = ConnectWiseSimOptions::default().public_key;
    let log: Vec<RequestRecord> = cw
        .requests()
        .into_iter()
        .filter(|r| r.user.as_deref() == Some(user.as_str()))
        .collect();
    let lost = log
        .iter()
        .position(|r| is_ticket_create(r) && r.ambiguous.is_some())
        .expect("the create's answer was lost");
    let after = &log[lost + 1..];
    assert!(
        !after.iter().any(is_ticket_create),
        "the create was sent again: {after:?}"
    );
    assert!(
        after
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/service/tickets")),
        "no marker lookup after the lost answer"
    );
    let history = audit_history(&env, &format!("autotask:{}", story.internal_number)).await;
    assert!(history.contains("adopted ticket"), "{history}");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_whose_answers_were_lost_are_adopted_on_both_vendors() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    settled(&env, &bridge).await;
    let (at_id, cw_id) = (story.autotask_id(), story.connectwise_id());

    env.autotask
        .control()
        .ambiguous_next_writes_to(AmbiguousReply::Unavailable, 1, "/Notes");
    env.connectwise
        .control()
        .ambiguous_next_writes_to(AmbiguousReply::Dropped, 1, "/notes");
    env.connectwise.user_add_note(
        cw_id,
        "Checked the firewall rules, all fine.",
        SimNoteKind::Discussion,
        "jsmith",
    );
    env.autotask
        .user_add_note(at_id, "Users still cannot print.", false, "Tina");
    wait_for("both notes to cross", STEP, || {
        let at = env.autotask.notes(at_id);
        let cw = env.connectwise.notes(cw_id);
        (at.iter().any(|n| n.text.contains("firewall rules"))
            && cw.iter().any(|n| n.text.contains("cannot print")))
        .then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;

    let at_copies = env
        .autotask
        .notes(at_id)
        .iter()
        .filter(|n| n.text.contains("firewall rules"))
        .count();
    let cw_copies = env
        .connectwise
        .notes(cw_id)
        .iter()
        .filter(|n| n.text.contains("cannot print"))
        .count();
    assert_eq!((at_copies, cw_copies), (1, 1), "each note mirrored once");
    assert_eq!(env.autotask.control().ambiguous_writes().len(), 1);
    assert_eq!(env.connectwise.control().ambiguous_writes().len(), 1);
    // The Autotask retry looked before it posted: no second note POST.
    let at_note_posts = env
        .autotask
        .control()
        .writes_by(AT_USER)
        .iter()
        .filter(|r| r.path.ends_with("/Notes"))
        .count();
    assert_eq!(
        at_note_posts, 2,
        "write-back note + the mirror, nothing more"
    );
    let history = audit_history(&env, &format!("autotask:{}", story.internal_number)).await;
    assert_eq!(
        history.matches("adopted note").count(),
        2,
        "both adoptions audited: {history}"
    );
    bridge.stop().await;
}
