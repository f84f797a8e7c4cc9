//! Starting the daemon's supervised tasks: the HTTP servers, the planner,
//! pruner, targets monitor, delivery workers and pollers, webhook registration and the
//! webhook watchers. Each runs under a [`Supervisor`] that restarts it after
//! a failure; a reload ([`super::reload`]) starts a new set.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::*;

/// Serves `app` on `listener` as the supervised task `name` with the
/// connection limits of [`listen`]; a restart serves again on the same socket.
pub(super) fn serve(
    supervisor: &Supervisor,
    tasks: &mut JoinSet<()>,
    name: &str,
    listener: TcpListener,
    app: axum::Router,
    limits: ListenerLimits,
) -> std::io::Result<()> {
    // A 5xx the bridge answers on purpose (503 while draining or while the
    // store cannot write, so senders retry) is a warning; the code that
    // decided it logs the cause.
    let app = app.layer(
        tower_http::trace::TraceLayer::new_for_http()
            .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::WARN)),
    );
    let socket = listener.into_std()?;
    let label = name.to_string();
    supervisor.spawn(tasks, name, Lifetime::UntilStop, move |stop| {
        let listener = socket.try_clone().and_then(TcpListener::from_std);
        let app = app.clone();
        let label = label.clone();
        async move {
            let listener = match listener {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::error!(server = %label, error = %e, "cannot reuse the listening socket");
                    return;
                }
            };
            let short = label.trim_start_matches("http:");
            listen::serve(short, listener, app, limits, stop.wait()).await;
        }
    });
    Ok(())
}

/// The planner, the pruner, and per connection a delivery worker and a poller.
pub(super) fn spawn_workers(
    supervisor: &Supervisor,
    tasks: &mut JoinSet<()>,
    engine: &Arc<Engine>,
    config: &crate::config::Config,
    tick: Duration,
    (abandon, tally): (&Stop, &delivery::DrainTally),
) {
    let e = engine.clone();
    supervisor.spawn(tasks, "planner", Lifetime::UntilStop, move |stop| {
        run_planner(e.clone(), tick, stop.wait())
    });
    let e = engine.clone();
    supervisor.spawn(tasks, "pruner", Lifetime::UntilStop, move |stop| {
        run_pruner(e.clone(), stop.wait())
    });
    // Response targets (`[targets]` in a mapping): kept across restarts.
    if let Some(monitor) = crate::accountability::monitor::Monitor::new(engine.clone()) {
        let monitor = Arc::new(tokio::sync::Mutex::new(monitor));
        supervisor.spawn(tasks, "targets", Lifetime::UntilStop, move |stop| {
            crate::accountability::monitor::run_monitor(
                monitor.clone(),
                crate::accountability::monitor::TICK,
                stop,
            )
        });
    }
    for (name, conn) in &config.connections {
        let (e, connection) = (engine.clone(), name.clone());
        let (abandon, tally) = (abandon.clone(), tally.clone());
        supervisor.spawn(
            tasks,
            &format!("delivery:{name}"),
            Lifetime::UntilStop,
            move |stop| {
                delivery::run_delivery_until(
                    e.clone(),
                    connection.clone(),
                    tick,
                    stop.wait(),
                    abandon.wait(),
                    tally.clone(),
                )
            },
        );
        if conn.polling {
            let (e, connection) = (engine.clone(), name.clone());
            let interval = Duration::from_secs(conn.poll_interval_secs);
            let overlap = Duration::from_secs(conn.poll_overlap_secs);
            supervisor.spawn(
                tasks,
                &format!("poller:{name}"),
                Lifetime::UntilStop,
                move |stop| {
                    run_poller(
                        e.clone(),
                        connection.clone(),
                        interval,
                        overlap,
                        stop.wait(),
                    )
                },
            );
        }
    }
}

/// Registers `conn`'s webhook at `url` in the background until it succeeds.
pub(super) fn spawn_registration(
    supervisor: &Supervisor,
    tasks: &mut JoinSet<()>,
    health: &Health,
    conn: &crate::engine::Connection,
    url: String,
    policy: RegisterPolicy,
) {
    health.set_registration(&conn.name, Registration::Registering);
    let (connector, connection, health) =
        (conn.connector.clone(), conn.name.clone(), health.clone());
    supervisor.spawn(
        tasks,
        &format!("register:{}", conn.name),
        Lifetime::UntilDone,
        move |stop| {
            register::register_until_done(
                connector.clone(),
                connection.clone(),
                url.clone(),
                health.clone(),
                policy,
                stop,
            )
        },
    );
}

/// Checks `watch`'s webhook in the background ([`webhook_watch`]).
pub(super) fn spawn_watch(
    supervisor: &Supervisor,
    tasks: &mut JoinSet<()>,
    watch: webhook_watch::Watch,
    tick: Duration,
) {
    let name = format!("webhook_watch:{}", watch.connection());
    // Kept across restarts of the task: the times it has seen.
    let watch = Arc::new(tokio::sync::Mutex::new(watch));
    supervisor.spawn(tasks, &name, Lifetime::UntilStop, move |stop| {
        webhook_watch::run_watch(watch.clone(), tick, stop)
    });
}
