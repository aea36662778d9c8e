//! The session: login on the raw stream, then one background task that owns the socket.
//!
//! Why one task: RouterOS multiplexes commands over one connection by `.tag`, so exactly one
//! reader must demultiplex replies to the waiting commands. The task registers a command's tag
//! before writing it (a reply can never beat its registration), routes each reply to the
//! command's bounded channel (a full channel stops reading: backpressure, never unbounded
//! buffering), drops replies for unknown or retired tags (late sentences after `/cancel`, §1.7),
//! and on `!fatal`, EOF or a protocol error records why, closes, and drops every channel so
//! each waiting command wakes up with that reason. It never panics on input.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, watch};

use super::ClientError;
use super::tls::Io;
use crate::codec::{CodecError, Decoder, Reply, ReplyKind, Request, Sentence};
use crate::login;

/// What a client handle asks of the connection task.
pub(super) enum Command {
    /// Register `tag` → `replies`, then write `sentence`.
    Send {
        tag: Vec<u8>,
        sentence: Sentence,
        replies: mpsc::Sender<Reply>,
    },
    /// Stop routing `tag` (its waiter gave up).
    Forget(Vec<u8>),
    /// Retire `tag` and write `/cancel =tag=…` tagged `cancel_tag`, whose reply nobody awaits.
    Cancel { tag: Vec<u8>, cancel_tag: Vec<u8> },
}

/// Why the connection ended; kept so every waiter reports the same cause.
#[derive(Debug, Clone)]
pub(super) enum Failure {
    Closed,
    Fatal(String),
    Protocol(CodecError),
}

impl From<Failure> for ClientError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Closed => ClientError::Closed,
            Failure::Fatal(reason) => ClientError::Fatal(reason),
            Failure::Protocol(error) => ClientError::Protocol(error),
        }
    }
}

/// State shared by the handles and the task.
#[derive(Debug)]
pub(super) struct Shared {
    next_tag: AtomicU64,
    failure: Mutex<Option<Failure>>,
    /// Set (to `true`) by the task when it has finished.
    closed: watch::Sender<bool>,
    /// Asks the task to close the connection.
    shutdown: Notify,
}

impl Shared {
    pub(super) fn new() -> Self {
        Self {
            next_tag: AtomicU64::new(1),
            failure: Mutex::new(None),
            closed: watch::Sender::new(false),
            shutdown: Notify::new(),
        }
    }

    /// A tag never used before on this connection, so a retired tag can never be confused
    /// with a live one.
    pub(super) fn next_tag(&self) -> Vec<u8> {
        self.next_tag
            .fetch_add(1, Ordering::Relaxed)
            .to_string()
            .into_bytes()
    }

    /// The error a command reports once the connection is gone.
    pub(super) fn error(&self) -> ClientError {
        let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.clone().unwrap_or(Failure::Closed).into()
    }

    pub(super) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    pub(super) fn request_shutdown(&self) {
        self.shutdown.notify_one();
    }

    pub(super) async fn wait_closed(&self) {
        let mut closed = self.closed.subscribe();
        // The sender lives in `self`, so this only returns once the flag is set.
        let _ = closed.wait_for(|closed| *closed).await;
    }

    /// Records the first failure; later ones are consequences.
    fn fail(&self, failure: Failure) {
        let mut slot = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(failure);
    }
}

/// Marks the connection closed when the task ends, even by unwinding.
struct ClosedOnDrop(Arc<Shared>);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        self.0.fail(Failure::Closed);
        self.0.closed.send_replace(true);
    }
}

/// A byte stream with a sentence decoder.
pub(super) struct Framed {
    io: Box<dyn Io>,
    decoder: Decoder,
    buffer: Box<[u8]>,
}

impl Framed {
    pub(super) fn new(io: Box<dyn Io>) -> Self {
        Self {
            io,
            decoder: Decoder::new(),
            buffer: vec![0; 16 * 1024].into_boxed_slice(),
        }
    }

    async fn send(&mut self, sentence: &Sentence) -> std::io::Result<()> {
        self.io.write_all(&sentence.to_bytes()).await?;
        self.io.flush().await
    }

    /// Reads once into the decoder. Cancel-safe: bytes are fed in the same poll they arrive.
    async fn fill(&mut self) -> Result<(), Failure> {
        match self.io.read(&mut self.buffer).await {
            Ok(0) => Err(Failure::Closed),
            Ok(n) => {
                self.decoder.feed(&self.buffer[..n]);
                Ok(())
            }
            Err(error) => {
                tracing::debug!(%error, "RouterOS connection read failed.");
                Err(Failure::Closed)
            }
        }
    }

    fn next_reply(&mut self) -> Result<Option<Reply>, Failure> {
        match self.decoder.next_sentence() {
            Ok(Some(sentence)) => Reply::parse(&sentence).map(Some).map_err(Failure::Protocol),
            Ok(None) => Ok(None),
            Err(error) => Err(Failure::Protocol(error)),
        }
    }

    async fn recv(&mut self) -> Result<Reply, ClientError> {
        loop {
            if let Some(reply) = self.next_reply()? {
                return Ok(reply);
            }
            self.fill().await?;
        }
    }

    async fn shutdown(&mut self) {
        let _ = self.io.shutdown().await;
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends one untagged login sentence and reads to its `!done`: the `=ret=` challenge if any.
async fn login_step(framed: &mut Framed, request: Request) -> Result<Option<String>, ClientError> {
    framed
        .send(&request.to_sentence())
        .await
        .map_err(|_| ClientError::Closed)?;
    let mut traps = Vec::new();
    loop {
        let reply = framed.recv().await?;
        match reply.kind {
            ReplyKind::Trap => traps.push(lossy(reply.get("message").unwrap_or_default())),
            ReplyKind::Fatal => {
                return Err(ClientError::Fatal(lossy(
                    reply.fatal_reason.as_deref().unwrap_or_default(),
                )));
            }
            ReplyKind::Done if traps.is_empty() => return Ok(reply.get("ret").map(lossy)),
            ReplyKind::Done => return Err(ClientError::Login(traps.join(", "))),
            ReplyKind::Re | ReplyKind::Empty => {}
        }
    }
}

/// The hybrid login (§1.8): name and password in clear (≥ 6.43); if the `!done` carries a
/// `=ret=` challenge (an older router ignored them), answer it with the MD5 response.
pub(super) async fn log_in(
    framed: &mut Framed,
    username: &str,
    password: &str,
) -> Result<(), ClientError> {
    let Some(challenge) = login_step(framed, login::plain_login(username, password)).await? else {
        return Ok(());
    };
    let request = login::challenge_login(username, password, &challenge)
        .map_err(|e| ClientError::Login(e.to_string()))?;
    login_step(framed, request).await.map(|_| ())
}

/// How long closing may wait for the peer to take the TLS `close_notify` / TCP FIN.
const SHUTDOWN_LIMIT: Duration = Duration::from_millis(250);

type Pending = HashMap<Vec<u8>, mpsc::Sender<Reply>>;

/// The connection task: runs until every handle is gone, `close` is asked, or the
/// connection fails.
pub(super) async fn run(
    mut framed: Framed,
    mut commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
) {
    let _closed = ClosedOnDrop(shared.clone());
    let mut pending = Pending::new();
    let failure = loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break Failure::Closed };
                if let Err(failure) = execute(command, &mut framed, &mut pending, &shared).await {
                    break failure;
                }
            }
            read = framed.fill() => {
                let routed = match read {
                    Ok(()) => route_all(&mut framed, &mut pending, &shared).await,
                    Err(failure) => Err(failure),
                };
                if let Err(failure) = routed {
                    break failure;
                }
            }
            () = shared.shutdown.notified() => break Failure::Closed,
        }
    };
    match &failure {
        Failure::Closed => tracing::debug!("RouterOS connection closed."),
        other => tracing::warn!(failure = ?other, "RouterOS connection failed."),
    }
    // Record the cause and mark the handles closed before dropping the channels: a waiter
    // woken by the drop reads the cause and sees `is_closed()`.
    shared.fail(failure);
    commands.close();
    let _ = tokio::time::timeout(SHUTDOWN_LIMIT, framed.shutdown()).await;
    drop(framed);
    shared.closed.send_replace(true);
    drop(pending);
    while commands.try_recv().is_ok() {}
}

async fn execute(
    command: Command,
    framed: &mut Framed,
    pending: &mut Pending,
    shared: &Shared,
) -> Result<(), Failure> {
    let sentence = match command {
        Command::Send {
            tag,
            sentence,
            replies,
        } => {
            pending.retain(|_, waiter| !waiter.is_closed());
            pending.insert(tag, replies);
            sentence
        }
        Command::Forget(tag) => {
            pending.remove(&tag);
            return Ok(());
        }
        Command::Cancel { tag, cancel_tag } => {
            if pending.remove(&tag).is_none() {
                return Ok(()); // already finished
            }
            let cancel = Request::new("/cancel").attr("tag", &tag).tag(cancel_tag);
            cancel.to_sentence()
        }
    };
    let written = tokio::select! {
        written = framed.send(&sentence) => written,
        () = shared.shutdown.notified() => return Err(Failure::Closed),
    };
    written.map_err(|error| {
        tracing::debug!(%error, "RouterOS connection write failed.");
        Failure::Closed
    })
}

/// Routes every complete reply in the decoder.
async fn route_all(
    framed: &mut Framed,
    pending: &mut Pending,
    shared: &Shared,
) -> Result<(), Failure> {
    while let Some(reply) = framed.next_reply()? {
        route(reply, pending, shared).await?;
    }
    Ok(())
}

async fn route(reply: Reply, pending: &mut Pending, shared: &Shared) -> Result<(), Failure> {
    if reply.kind == ReplyKind::Fatal {
        let reason = reply.fatal_reason.as_deref().unwrap_or_default();
        return Err(Failure::Fatal(lossy(reason)));
    }
    let Some(tag) = reply.tag.clone() else {
        tracing::debug!(kind = ?reply.kind, "Dropped an untagged RouterOS reply.");
        return Ok(());
    };
    let waiter = if reply.kind == ReplyKind::Done {
        pending.remove(&tag)
    } else {
        pending.get(&tag).cloned()
    };
    let Some(waiter) = waiter else {
        tracing::trace!(kind = ?reply.kind, "Dropped a RouterOS reply for a retired tag.");
        return Ok(());
    };
    // A full channel holds reading here (backpressure) until the waiter catches up, gives up
    // (the send fails) or the connection is closed.
    let delivered = tokio::select! {
        sent = waiter.send(reply) => sent.is_ok(),
        () = shared.shutdown.notified() => return Err(Failure::Closed),
    };
    if !delivered {
        pending.remove(&tag);
    }
    Ok(())
}
