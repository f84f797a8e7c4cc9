//! Order per ticket: operations for one far ticket are applied in the order
//! they were planned, one at a time, even when the vendor is slow and the
//! other side changes quickly.

use std::time::Duration;

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{env, settled, Bridge, STEP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tickets_writes_arrive_in_order_one_at_a_time() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    settled(&env, &bridge).await;
    let (at_id, cw_id) = (story.autotask_id(), story.connectwise_id());

    // A slow ConnectWise keeps every write in flight for a while.
    env.connectwise
        .control()
        .set_latency(Duration::from_millis(300));
    let steps = [
        ("Critical", "note one"),
        ("Low", "note two"),
        ("High", "note three"),
        ("Medium", "note four"),
    ];
    for (priority, note) in steps {
        env.autotask.user_add_note(at_id, note, false, "Tina");
        env.autotask.user_set_priority(at_id, priority);
    }
    wait_for("the last note in ConnectWise", STEP, || {
        env.connectwise
            .notes(cw_id)
            .iter()
            .any(|n| n.text.contains("note four"))
            .then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;

    let texts: Vec<String> = env
        .connectwise
        .notes(cw_id)
        .into_iter()
        .map(|n| n.text)
        .filter(|t| t.contains("note "))
        .collect();
    let position = |needle: &str| {
        texts
            .iter()
            .position(|t| t.contains(needle))
            .unwrap_or_else(|| panic!("{needle} missing from {texts:?}"))
    };
    let order: Vec<usize> = steps.iter().map(|(_, note)| position(note)).collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "notes out of order: {texts:?}"
    );
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert_eq!(
        env.connectwise.ticket(cw_id).unwrap().priority,
        "Priority 3 - Normal Response",
        "the last priority wins"
    );
    let overlap = env
        .connectwise
        .control()
        .most_concurrent_writes(&format!("/service/tickets/{cw_id}"));
    assert_eq!(
        overlap, 1,
        "two writes for one ticket were in flight at once"
    );
    bridge.stop().await;
}
