//! The HTTPS listener: accepts TCP, reads each ClientHello without blocking the accept loop, obtains a certificate
//! on demand for hosts the [`HostPolicy`] allows, finishes the handshake and hands the stream to axum.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::Acceptor;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use super::HostPolicy;
use super::acme::AcmeManager;
use super::store::{ACME_TLS_ALPN, CertStore};

/// A handshake (including an on-demand order) that takes longer is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a client waits for an on-demand certificate before its handshake fails.
const ON_DEMAND_WAIT: Duration = Duration::from_secs(60);

/// Obtains certificates for names outside `tls_domains` when the host policy allows them.
pub struct OnDemand {
    pub manager: Arc<AcmeManager>,
    pub policy: Arc<dyn HostPolicy>,
}

/// Finishes TLS handshakes.
pub struct Handshaker {
    store: Arc<CertStore>,
    serving: Arc<ServerConfig>,
    validating: Arc<ServerConfig>,
    on_demand: Option<OnDemand>,
}

impl Handshaker {
    pub fn new(store: Arc<CertStore>, on_demand: Option<OnDemand>) -> Result<Self, rustls::Error> {
        let config = |alpn: &[u8]| -> Result<Arc<ServerConfig>, rustls::Error> {
            let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(store.clone());
            config.alpn_protocols = vec![alpn.to_vec()];
            Ok(Arc::new(config))
        };
        Ok(Self { serving: config(b"http/1.1")?, validating: config(ACME_TLS_ALPN)?, store, on_demand })
    }

    async fn handshake(&self, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        let start = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
        let hello = start.client_hello();
        let validating = hello.alpn().is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        let host = hello.server_name().map(str::to_ascii_lowercase);
        if validating {
            return start.into_stream(self.validating.clone()).await;
        }
        if let (Some(host), Some(on_demand)) = (host, &self.on_demand)
            && !self.store.covers(&host)
            && crate::config::tls::is_dns_name(&host)
            && on_demand.policy.wants_certificate(&host)
        {
            // Without a certificate the handshake below fails, which is the right answer when the order fails.
            on_demand.manager.on_demand(&host, ON_DEMAND_WAIT).await;
        }
        start.into_stream(self.serving.clone()).await
    }
}

/// TLS connections ready for HTTP, as an axum listener.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` until `stop` turns true; each handshake runs in its own task.
    pub fn spawn(
        tcp: TcpListener,
        handshaker: Arc<Handshaker>,
        mut stop: watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = tcp.accept() => accepted,
                    _ = stop.wait_for(|stopping| *stopping) => return,
                };
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: pause instead of spinning.
                        tracing::warn!(error = %e, "accepting an HTTPS connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let handshaker = handshaker.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshaker.handshake(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop stopped (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
