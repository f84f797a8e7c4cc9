//! Callback registration converges: calling it again writes nothing when
//! the callback is in place, and switches back on a callback ConnectWise
//! deactivated (it does after three days of failed deliveries).

mod common;

use psa_connector::Connector;
use psa_connectwise::sim::ConnectWiseSimOptions;

const URL: &str = "http://127.0.0.1:9/webhooks/connectwise";

fn callback_writes(sim: &psa_connectwise::sim::ConnectWiseSim) -> usize {
    let user = ConnectWiseSimOptions::default().public_key;
    sim.control()
        .writes_by(&user)
        .iter()
        .filter(|r| r.path.contains("/system/callbacks"))
        .count()
}

#[tokio::test]
async fn registering_again_reactivates_a_deactivated_callback() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim);
    c.register_webhook(URL).await.unwrap();
    assert_eq!(callback_writes(&sim), 1);
    c.register_webhook(URL).await.unwrap();
    assert_eq!(callback_writes(&sim), 1, "complete: nothing written");

    sim.deactivate_callbacks();
    c.register_webhook(URL).await.unwrap();
    let ours: Vec<(String, bool)> = sim
        .callbacks()
        .into_iter()
        .filter(|(url, _)| url.starts_with(URL))
        .collect();
    assert_eq!(ours.len(), 1, "no second callback: {ours:?}");
    assert!(ours[0].1, "the callback was switched back on: {ours:?}");
    assert_eq!(callback_writes(&sim), 2, "one PATCH to reactivate");
}
