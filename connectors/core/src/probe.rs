//! Test support for transport security, used by every connector's
//! `tests/transport_security.rs`.
//!
//! [`SelfSignedServer`]: a loopback HTTPS server whose certificate no public
//! authority signed (a fixed self-signed certificate for `127.0.0.1`, valid
//! until 2126; the key in `probe/key.pem` protects nothing else). A client
//! pointed at it must fail the handshake with a certificate error, so no
//! request (and no credential) ever reaches it.
//!
//! [`Trap`]: a plain loopback server on another origin that counts the
//! requests reaching it, for hostile links and redirects.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;

const CERT: &str = include_str!("probe/cert.pem");
const KEY: &str = include_str!("probe/key.pem");

/// A running self-signed HTTPS server on 127.0.0.1 (stops when dropped).
pub struct SelfSignedServer {
    /// `https://127.0.0.1:<port>`.
    pub origin: String,
    connections: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SelfSignedServer {
    /// Binds 127.0.0.1:0 and serves until dropped. Panics on setup failure
    /// (test support only).
    pub async fn start() -> Self {
        let cert = CertificateDer::from_pem_slice(CERT.as_bytes()).expect("fixture certificate");
        let key = PrivateKeyDer::from_pem_slice(KEY.as_bytes()).expect("fixture key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let origin = format!("https://{}", listener.local_addr().expect("local addr"));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (counter, connected) = (handshakes.clone(), connections.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connected.fetch_add(1, Ordering::SeqCst);
                let (acceptor, counter) = (acceptor.clone(), counter.clone());
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(stream).await {
                        // Only a client that trusted the certificate gets here.
                        counter.fetch_add(1, Ordering::SeqCst);
                        let _ = tls
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                            .await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        Self {
            origin,
            connections,
            handshakes,
            task,
        }
    }

    /// TCP connections accepted: a client that tried.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Handshakes a client completed, i.e. clients that accepted the
    /// certificate and could have sent a request: must stay 0.
    pub fn handshakes_completed(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// Panics unless `err` is a transport error that says "certificate", a
    /// client connected, and none completed a handshake with this server.
    pub fn assert_refused(&self, err: &crate::ConnectorError) {
        assert!(self.connections() > 0, "no client connected: {err:?}");
        match err {
            crate::ConnectorError::Transport(m) => assert!(
                m.to_lowercase().contains("certificate"),
                "the error does not say certificate: {m}"
            ),
            other => panic!("expected a certificate error, got {other:?}"),
        }
        assert_eq!(
            self.handshakes_completed(),
            0,
            "a client trusted the server"
        );
    }
}

impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A plain loopback HTTP server on its own port (so another origin than
/// any fake vendor) that counts the requests reaching it: links and
/// redirects pointing here must never be followed.
pub struct Trap {
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Trap {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let origin = format!("http://{}", listener.local_addr().expect("local addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "{}"
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { origin, hits, task }
    }

    /// Requests that reached the trap: must stay 0.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.task.abort();
    }
}
