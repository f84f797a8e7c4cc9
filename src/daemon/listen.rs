//! The daemon's own HTTP/1 accept loop, used for every listener (webhooks,
//! admin, metrics) instead of `axum::serve`, which sets no header-read
//! timeout and no connection cap. Here:
//!
//! - a client must send a request's whole head (request line and headers)
//!   within `daemon.header_read_timeout_secs`, or its connection is closed
//!   (slowloris on the header phase). The same limit bounds how long a
//!   keep-alive connection may sit idle between requests: hyper arms the
//!   header timer as soon as it waits for the next request head.
//! - at most `daemon.max_connections` connections are open per listener.
//!   Over the cap, a new connection is accepted and closed at once (counted
//!   in `psa_bridge_connections_refused_total`) rather than left in the
//!   kernel backlog: a vendor gets a fast failure it retries (and polling
//!   covers what it drops) instead of a hang, and the backlog cannot fill.
//! - on stop, the listener stops accepting, open connections finish their
//!   request and close (hyper's graceful shutdown), and whatever is still
//!   open after [`ListenerLimits::drain`] is dropped.
//!
//! Body-read timeouts and the concurrent-webhook cap are per request and live
//! in [`crate::ingest`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::DaemonConfig;

/// Per-connection limits of one listener.
#[derive(Clone, Copy, Debug)]
pub struct ListenerLimits {
    /// Time a client has to send a request head, and the longest idle time
    /// between keep-alive requests.
    pub header_read_timeout: Duration,
    /// Connections open at once; more are closed on accept.
    pub max_connections: usize,
    /// How long a stopping listener waits for open connections to finish.
    pub drain: Duration,
}

impl ListenerLimits {
    /// The limits `[daemon]` configures (values are validated at load time;
    /// zero is still kept away from the runtime here).
    pub fn from_config(config: &DaemonConfig) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
            max_connections: config.max_connections.max(1),
            drain: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `stop` resolves, then drains.
/// `name` labels logs and metrics (`webhooks`, `admin`, `metrics`).
pub async fn serve(
    name: &str,
    listener: TcpListener,
    app: axum::Router,
    limits: ListenerLimits,
    stop: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let open = metrics::gauge!("psa_bridge_open_connections", "listener" => name.to_string());
    let refused =
        metrics::counter!("psa_bridge_connections_refused_total", "listener" => name.to_string());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(listener = %name, error = %e, "a connection task failed");
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(listener = %name, error = %e, "accept failed; retrying in 1 s");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                            _ = &mut stop => break,
                        }
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    refused.increment(1);
                    tracing::debug!(listener = %name, %peer, max = limits.max_connections, "connection cap reached; closing the new connection");
                    drop(stream);
                    continue;
                };
                let service = TowerToHyperService::new(app.clone());
                let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                let slot = Slot::take(open.clone(), permit);
                let label = name.to_string();
                connections.spawn(async move {
                    if let Err(e) = connection.await {
                        // Header timeouts, resets and malformed requests land here.
                        tracing::debug!(listener = %label, %peer, error = %e, "connection ended with an error");
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(listener = %name, open = connections.len(), "connections still open after the drain period; closing them");
    }
    connections.shutdown().await;
}

/// One open connection: holds its permit and counts it in the gauge until
/// dropped (also when the connection task is aborted).
struct Slot {
    open: metrics::Gauge,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Slot {
    fn take(open: metrics::Gauge, permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        open.increment(1.0);
        Self {
            open,
            _permit: permit,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.decrement(1.0);
    }
}

/// Errors that concern one incoming connection only (the listener is fine).
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
