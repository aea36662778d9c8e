//! One client connection: login state, command dispatch, running streams and `/cancel`.
//!
//! The session task alone owns the socket. It alternates between reading sentences and
//! writing what its stream tasks queued on a bounded channel, so a one-shot reply and stream
//! output never interleave inside a sentence. Before writing a reply of its own it flushes the
//! queued stream output; together with aborting (and awaiting) cancelled streams first, this
//! gives the exact `/cancel` order of reference §1.7. Dropping the session aborts its streams,
//! which is how server shutdown closes everything.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use centinela_routeros::codec::{CodecError, Decoder, Reply, Request, Sentence};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::auth::{self, LoginOutcome};
use crate::commands::{self, Action, trap};
use crate::router::Router;
use crate::scenario::Quirks;
use crate::streams::{self, StreamOutput};

/// Queued stream chunks per session before streams wait for the socket.
const OUTPUT_QUEUE: usize = 64;

/// Why a session ended abnormally (logged at debug level; the client just sees a close).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("undecodable input: {0}")]
    Codec(#[from] CodecError),
    #[error("TLS handshake timed out")]
    TlsTimeout,
}

/// What every session of one simulator shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) router: Arc<Router>,
    pub(crate) users: Vec<(String, String)>,
    pub(crate) legacy_login: bool,
    pub(crate) quirks: Quirks,
}

/// A running stream, aborted when dropped.
#[derive(Debug)]
struct RunningStream {
    tag: Option<Vec<u8>>,
    handle: JoinHandle<()>,
    rows_sent: Arc<AtomicU64>,
}

impl Drop for RunningStream {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Whether the connection goes on after a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

pub(crate) struct Session<S> {
    io: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    decoder: Decoder,
    user: Option<String>,
    challenge: Option<String>,
    streams: Vec<RunningStream>,
    out_tx: mpsc::Sender<Vec<u8>>,
    out_rx: mpsc::Receiver<Vec<u8>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub(crate) fn new(io: S, peer: SocketAddr, shared: Arc<Shared>) -> Self {
        let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
        Session {
            io,
            peer,
            shared,
            decoder: Decoder::new(),
            user: None,
            challenge: None,
            streams: Vec::new(),
            out_tx,
            out_rx,
        }
    }

    /// Serves the connection until the client leaves, `/quit`, a fatal error or bad input.
    pub(crate) async fn run(mut self) -> Result<(), SessionError> {
        let result = self.serve().await;
        if let Some(user) = self.user.take() {
            let message = format!("user {user} logged out from {} via api", self.peer.ip());
            self.shared.router.log("system,info,account", message);
        }
        result
    }

    async fn serve(&mut self) -> Result<(), SessionError> {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            while let Some(sentence) = self.decoder.next_sentence()? {
                if self.handle(&sentence).await? == Flow::Close {
                    // Best effort: the client may already be gone.
                    let _ = self.io.shutdown().await;
                    return Ok(());
                }
            }
            tokio::select! {
                read = self.io.read(&mut buf) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    self.decoder.feed(&buf[..n]);
                }
                Some(chunk) = self.out_rx.recv() => self.write_chunk(&chunk).await?,
            }
        }
    }

    async fn handle(&mut self, sentence: &Sentence) -> Result<Flow, SessionError> {
        let request = Request::parse(sentence)?;
        let command = String::from_utf8_lossy(&request.command).into_owned();
        tracing::debug!(peer = %self.peer, command, tag = ?request.tag.as_deref().map(String::from_utf8_lossy), "Command received.");
        match command.trim_start_matches('/') {
            "login" => self.login(&request).await,
            _ if self.user.is_none() => self.fatal("not logged in").await,
            "quit" => self.fatal("session terminated on request").await,
            "cancel" => self.cancel(&request).await,
            _ => match commands::dispatch(
                &self.shared.router,
                self.shared.quirks.emit_empty,
                &request,
            ) {
                Action::Reply(replies) => self.reply(&request, replies).await,
                Action::Stream(spec) => {
                    self.start_stream(&request, spec);
                    Ok(Flow::Continue)
                }
            },
        }
    }

    async fn login(&mut self, request: &Request) -> Result<Flow, SessionError> {
        let shared = Arc::clone(&self.shared);
        let outcome = auth::evaluate(
            request,
            &shared.users,
            shared.legacy_login,
            self.challenge.as_deref(),
        );
        let ip = self.peer.ip();
        match outcome {
            LoginOutcome::Challenge(challenge) => {
                let done = Reply::done().attr("ret", &challenge);
                self.challenge = Some(challenge);
                self.reply(request, vec![done]).await
            }
            LoginOutcome::Success(user) => {
                tracing::info!(peer = %self.peer, user, "Client logged in.");
                shared.router.log(
                    "system,info,account",
                    format!("user {user} logged in from {ip} via api"),
                );
                self.user = Some(user);
                self.challenge = None;
                self.reply(request, vec![Reply::done()]).await
            }
            LoginOutcome::Failure { user, message } => {
                tracing::info!(peer = %self.peer, user, "Login refused.");
                shared.router.log(
                    "system,error,critical",
                    format!("login failure for user {user} from {ip} via api"),
                );
                self.reply(request, vec![trap(None, message), Reply::done()])
                    .await?;
                Ok(if shared.quirks.close_on_login_failure {
                    Flow::Close
                } else {
                    Flow::Continue
                })
            }
        }
    }

    /// `!fatal <reason>` (never tagged), then close.
    async fn fatal(&mut self, reason: &str) -> Result<Flow, SessionError> {
        self.write_replies(&[Reply::fatal(reason)], None).await?;
        Ok(Flow::Close)
    }

    /// `/cancel [=tag=T]`: interrupt T (or every stream), in the router's order:
    /// `!trap interrupted` per stream, the cancel's own `!done`, then `[!empty] !done` per stream.
    async fn cancel(&mut self, request: &Request) -> Result<Flow, SessionError> {
        let target = request
            .get("tag")
            .filter(|t| !t.is_empty())
            .map(<[u8]>::to_vec);
        self.streams.retain(|s| !s.handle.is_finished());
        let (mut cancelled, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.streams)
            .into_iter()
            .partition(|s| target.is_none() || s.tag == target);
        self.streams = kept;
        for stream in &cancelled {
            stream.handle.abort();
        }
        for stream in cancelled.iter_mut() {
            // Cancelled (or already finished): either way it sends nothing more.
            let _ = (&mut stream.handle).await;
        }
        let mut replies = Vec::new();
        for stream in &cancelled {
            replies.push(trap(Some(2), "interrupted").with_tag(stream.tag.as_deref()));
        }
        replies.push(Reply::done().with_tag(request.tag.as_deref()));
        for stream in &cancelled {
            if self.shared.quirks.emit_empty && stream.rows_sent.load(Ordering::Relaxed) == 0 {
                replies.push(Reply::empty().with_tag(stream.tag.as_deref()));
            }
            replies.push(Reply::done().with_tag(stream.tag.as_deref()));
        }
        self.write_replies(&replies, None).await?;
        Ok(Flow::Continue)
    }

    fn start_stream(&mut self, request: &Request, spec: commands::StreamSpec) {
        let rows_sent = Arc::new(AtomicU64::new(0));
        let output = StreamOutput {
            tag: request.tag.clone(),
            out: self.out_tx.clone(),
            rows_sent: Arc::clone(&rows_sent),
        };
        let handle = tokio::spawn(streams::run(spec, Arc::clone(&self.shared.router), output));
        self.streams.push(RunningStream {
            tag: request.tag.clone(),
            handle,
            rows_sent,
        });
    }

    async fn reply(
        &mut self,
        request: &Request,
        replies: Vec<Reply>,
    ) -> Result<Flow, SessionError> {
        self.write_replies(&replies, request.tag.as_deref()).await?;
        Ok(Flow::Continue)
    }

    /// Writes queued stream output, then `replies` (tagged with `tag` when given) as one chunk.
    async fn write_replies(
        &mut self,
        replies: &[Reply],
        tag: Option<&[u8]>,
    ) -> Result<(), SessionError> {
        while let Ok(chunk) = self.out_rx.try_recv() {
            self.write_chunk(&chunk).await?;
        }
        let mut bytes = Vec::new();
        for reply in replies {
            let reply = if tag.is_some() {
                reply.clone().with_tag(tag)
            } else {
                reply.clone()
            };
            reply.to_sentence().encode(&mut bytes);
        }
        self.write_chunk(&bytes).await
    }

    async fn write_chunk(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let quirks = &self.shared.quirks;
        if quirks.response_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(quirks.response_delay_ms)).await;
        }
        if quirks.fragment_writes {
            for byte in bytes {
                self.io.write_all(std::slice::from_ref(byte)).await?;
                self.io.flush().await?;
            }
        } else {
            self.io.write_all(bytes).await?;
        }
        self.io.flush().await?;
        Ok(())
    }
}
