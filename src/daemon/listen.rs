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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    use super::*;

    const BOUND: Duration = Duration::from_secs(30);

    fn app() -> axum::Router {
        axum::Router::new().route("/", axum::routing::get(|| async { "ok" }))
    }

    /// Serves `app()` with `limits`; stop by sending on the returned channel.
    async fn start(
        limits: ListenerLimits,
    ) -> (
        std::net::SocketAddr,
        oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve("test", listener, app(), limits, async {
            let _ = rx.await;
        }));
        (addr, tx, server)
    }

    /// One keep-alive request; returns the answer's first bytes.
    async fn request(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    #[tokio::test]
    async fn stop_closes_idle_connections_without_waiting_for_the_drain() {
        let limits = ListenerLimits {
            header_read_timeout: Duration::from_secs(600),
            max_connections: 4,
            drain: Duration::from_secs(600),
        };
        let (addr, stop, server) = start(limits).await;
        let mut idle = TcpStream::connect(addr).await.unwrap();
        assert!(request(&mut idle).await.starts_with("HTTP/1.1 200"));
        stop.send(()).unwrap();
        tokio::time::timeout(BOUND, server)
            .await
            .expect("an idle connection held the stop up")
            .unwrap();
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(BOUND, idle.read(&mut buf))
            .await
            .expect("the idle connection stayed open");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }

    #[tokio::test]
    async fn stop_drops_a_half_sent_request_after_the_drain_period() {
        let limits = ListenerLimits {
            header_read_timeout: Duration::from_secs(600),
            max_connections: 4,
            drain: Duration::from_millis(100),
        };
        let (addr, stop, server) = start(limits).await;
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nhost").await.unwrap();
        // Served (not refused): a second connection still gets an answer.
        let mut other = TcpStream::connect(addr).await.unwrap();
        assert!(request(&mut other).await.starts_with("HTTP/1.1 200"));
        stop.send(()).unwrap();
        tokio::time::timeout(BOUND, server)
            .await
            .expect("a half-sent request held the stop up beyond the drain")
            .unwrap();
    }

    #[tokio::test]
    async fn over_the_cap_a_connection_is_closed_at_once() {
        let limits = ListenerLimits {
            header_read_timeout: Duration::from_secs(600),
            max_connections: 1,
            drain: Duration::from_millis(100),
        };
        let (addr, stop, server) = start(limits).await;
        let mut holder = TcpStream::connect(addr).await.unwrap();
        assert!(request(&mut holder).await.starts_with("HTTP/1.1 200"));
        let mut refused = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(BOUND, refused.read(&mut buf))
            .await
            .expect("the connection over the cap stayed open");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
        drop(holder);
        // The slot frees once the server sees the close.
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            let mut next = TcpStream::connect(addr).await.unwrap();
            if next
                .write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n")
                .await
                .is_ok()
            {
                let mut buf = [0u8; 512];
                if let Ok(n) = next.read(&mut buf).await {
                    if n > 0 {
                        assert!(buf.starts_with(b"HTTP/1.1 200"));
                        break;
                    }
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the slot never freed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(()).unwrap();
        server.await.unwrap();
    }
}
