//! The listener: [`start`] binds, spawns the clock and the accept loop, and returns a
//! [`SimHandle`] that reports the bound address and shuts everything down.
//!
//! Sessions live in a `JoinSet` owned by the accept loop; shutting down aborts the set and
//! waits for it, and since each session task owns its socket and its streams, every
//! connection is closed when [`SimHandle::shutdown`] returns. Dropping the handle without
//! calling `shutdown` stops the simulator too (without waiting).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::SimConfig;
use crate::router::Router;
use crate::session::{Session, SessionError, Shared};

/// Longest TLS handshake a client gets.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    local_addr: SocketAddr,
    certificate_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The bound address (with the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The self-signed certificate (PEM) when serving TLS.
    pub fn certificate_pem(&self) -> Option<String> {
        self.certificate_pem.clone()
    }

    /// Stops accepting, closes every session (sockets dropped), returns when done.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // The accept loop may already have ended; nothing to tell it then.
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Starts a simulator: binds `config.listen`, generates the TLS certificate if asked, and
/// serves until [`SimHandle::shutdown`]. Fails on a bind error or an invalid scenario.
pub async fn start(config: SimConfig) -> io::Result<SimHandle> {
    config
        .scenario
        .validate()
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let listener = TcpListener::bind(config.listen).await?;
    let local_addr = listener.local_addr()?;
    let (acceptor, certificate_pem) = if config.tls {
        let (acceptor, pem) = self_signed_acceptor(local_addr)?;
        (Some(acceptor), Some(pem))
    } else {
        (None, None)
    };
    let users = if config.users.is_empty() {
        vec![("admin".to_string(), String::new())]
    } else {
        config.users
    };
    let quirks = config.scenario.quirks.clone();
    let shared = Arc::new(Shared {
        router: Router::new(config.version, config.scenario),
        users,
        legacy_login: config.legacy_login,
        quirks,
    });
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, shared, acceptor, stopped));
    tracing::info!(%local_addr, tls = config.tls, version = ?config.version, "RouterOS simulator listening.");
    Ok(SimHandle {
        local_addr,
        certificate_pem,
        stop: Some(stop),
        task: Some(task),
    })
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    acceptor: Option<TlsAcceptor>,
    mut stopped: oneshot::Receiver<()>,
) {
    let clock = shared.router.spawn_clock();
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            // A send or a dropped handle both mean stop.
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    sessions.spawn(serve(socket, peer, Arc::clone(&shared), acceptor.clone()));
                }
                Err(error) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    sessions.shutdown().await;
    clock.abort();
    tracing::info!("RouterOS simulator stopped.");
}

async fn serve(
    socket: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<TlsAcceptor>,
) {
    // Replies are written whole; Nagle would only add latency.
    let _ = socket.set_nodelay(true);
    tracing::debug!(%peer, "Connection accepted.");
    let result = match acceptor {
        None => Session::new(socket, peer, shared).run().await,
        Some(acceptor) => {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
                Ok(Ok(stream)) => Session::new(stream, peer, shared).run().await,
                Ok(Err(error)) => Err(SessionError::Io(error)),
                Err(_) => Err(SessionError::TlsTimeout),
            }
        }
    };
    match result {
        Ok(()) => tracing::debug!(%peer, "Connection closed."),
        Err(error) => tracing::debug!(%peer, %error, "Connection ended with an error."),
    }
}

/// A TLS acceptor with a fresh self-signed certificate for `localhost` and the bound IP.
fn self_signed_acceptor(addr: SocketAddr) -> io::Result<(TlsAcceptor, String)> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !addr.ip().is_unspecified() && !addr.ip().is_loopback() {
        names.push(addr.ip().to_string());
    }
    let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(io::Error::other)?;
    Ok((TlsAcceptor::from(Arc::new(config)), certified.cert.pem()))
}
