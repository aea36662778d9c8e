//! An async RouterOS API client over one (plain or TLS) connection.
//!
//! Why this shape: a poller runs several commands against one router at once and keeps a few
//! streams open (`/log/listen`, `monitor-traffic`). [`Client`] is a cheap clonable handle; a
//! background task owns the socket and demultiplexes replies by `.tag`, which the client
//! assigns to every command itself (`connection`). Opening the transport and TLS live in `tls`,
//! streaming commands in `stream`, the configuration in `config`, rows and traps in `rows`.
//!
//! Errors are [`ClientError`]; the password never appears in logs or `Debug` output.

mod config;
mod connection;
mod rows;
mod stream;
mod tls;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use tokio::sync::mpsc;

use crate::codec::{CodecError, Reply, ReplyKind, Request};
pub use config::ClientConfig;
use connection::{Command, Framed, Shared};
use rows::join_traps;
pub use rows::{Row, Trap};
pub use stream::Stream;

/// Capacity of a one-shot command's reply channel.
const ONE_SHOT_CAPACITY: usize = 64;
/// Capacity of a streaming command's reply channel; when full, reading pauses.
const STREAM_CAPACITY: usize = 256;
/// Capacity of the channel from handles to the connection task.
const COMMAND_CAPACITY: usize = 64;
/// How long a one-shot command waits for the `!done` that should follow `!empty` (one
/// RouterOS 7.23.3 build was seen to omit it).
const EMPTY_GRACE: Duration = Duration::from_millis(500);

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TCP connect failed or timed out; the message names the address.
    #[error("{0}")]
    Connect(std::io::Error),
    #[error("timed out while {0}")]
    Timeout(&'static str),
    #[error("TLS error: {0}")]
    Tls(String),
    /// The router refused the login; its message, e.g. `invalid user name or password (6)`.
    #[error("login failed: {0}")]
    Login(String),
    /// Every `!trap` of one command.
    #[error("{}", join_traps(.0))]
    Trap(Vec<Trap>),
    /// `!fatal` with its reason; the connection is closed.
    #[error("the router ended the session: {0}")]
    Fatal(String),
    #[error("RouterOS protocol error: {0}")]
    Protocol(#[from] CodecError),
    #[error("the RouterOS connection is closed")]
    Closed,
}

/// A handle to one logged-in RouterOS session; clone it freely. The connection closes when
/// every handle (and every [`Stream`]) is dropped, or on [`Client::close`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    command_timeout: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Outcome of reading one command's replies.
struct Collected {
    rows: Vec<Row>,
    done: Row,
}

impl Client {
    /// Connects (within `connect_timeout`), negotiates TLS if configured, and logs in with the
    /// hybrid method (name and password; the MD5 challenge if the router answers with `=ret=`).
    /// With TLS and `accept_invalid_certs == false`, no certificate is trusted: use
    /// [`Client::connect_with_roots`] to name trust anchors.
    pub async fn connect(config: &ClientConfig) -> Result<Client, ClientError> {
        Self::connect_with_roots(config, RootCertStore::empty()).await
    }

    /// [`Client::connect`] with the trust anchors for TLS certificate verification.
    pub async fn connect_with_roots(
        config: &ClientConfig,
        roots: RootCertStore,
    ) -> Result<Client, ClientError> {
        let io = tls::open(config, Arc::new(roots)).await?;
        let mut framed = Framed::new(io);
        let login = connection::log_in(&mut framed, &config.username, &config.password);
        tokio::time::timeout(config.command_timeout, login)
            .await
            .map_err(|_| ClientError::Timeout("logging in"))??;
        tracing::debug!(
            address = %tls::display_address(config),
            username = %config.username,
            "Logged in to RouterOS."
        );
        let shared = Arc::new(Shared::new());
        let (commands, receiver) = mpsc::channel(COMMAND_CAPACITY);
        tokio::spawn(connection::run(framed, receiver, shared.clone()));
        let inner = Inner {
            commands,
            shared,
            command_timeout: config.command_timeout,
        };
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// One-shot command: collects `!re` rows until `!done`; `!empty` → no rows; traps →
    /// `Err(Trap(all))`. The client sets the `.tag` (a tag in `request` is replaced).
    pub async fn run(&self, request: Request) -> Result<Vec<Row>, ClientError> {
        self.run_with_done(request).await.map(|(rows, _)| rows)
    }

    /// Same as [`Client::run`], but also returns the `!done` attributes (e.g. `ret`).
    pub async fn run_with_done(&self, request: Request) -> Result<(Vec<Row>, Row), ClientError> {
        let work = async {
            let (tag, replies) = self.register(request, ONE_SHOT_CAPACITY).await?;
            let mut forget = ForgetOnDrop {
                commands: &self.inner.commands,
                tag: Some(tag),
            };
            let collected = self.collect(replies).await;
            forget.disarm_if(collected.is_ok());
            collected
        };
        let collected = tokio::time::timeout(self.inner.command_timeout, work)
            .await
            .map_err(|_| ClientError::Timeout("waiting for a command's reply"))??;
        Ok((collected.rows, collected.done))
    }

    /// `command` with `=.proplist=` (when `proplist` is non-empty) and query words (given
    /// without `?`), e.g. `print("/interface/print", &["name"], &["type=ether"])`.
    pub async fn print(
        &self,
        command: &str,
        proplist: &[&str],
        queries: &[&str],
    ) -> Result<Vec<Row>, ClientError> {
        let mut request = Request::new(command);
        if !proplist.is_empty() {
            request = request.proplist(proplist);
        }
        let request = queries.iter().fold(request, |r, q| r.query(q));
        self.run(request).await
    }

    /// Starts a streaming command (`/log/listen`, `=follow=`, `monitor-traffic`); rows arrive on
    /// the returned [`Stream`]. Poll the stream or drop it: a full stream pauses the connection.
    pub async fn stream(&self, request: Request) -> Result<Stream, ClientError> {
        let (tag, replies) = self.register(request, STREAM_CAPACITY).await?;
        Ok(Stream::new(self.clone(), tag, replies))
    }

    /// `true` once the connection has ended (closed, `!fatal`, EOF, protocol error).
    pub fn is_closed(&self) -> bool {
        self.inner.shared.is_closed()
    }

    /// Drops the connection (no `/quit`); pending commands fail with `Closed`. Returns when
    /// the connection task has finished.
    pub async fn close(&self) {
        self.inner.shared.request_shutdown();
        self.inner.shared.wait_closed().await;
    }

    /// Tags `request`, registers its reply channel with the task and has it written.
    async fn register(
        &self,
        request: Request,
        capacity: usize,
    ) -> Result<(Vec<u8>, mpsc::Receiver<Reply>), ClientError> {
        if self.is_closed() {
            return Err(self.inner.shared.error());
        }
        let tag = self.inner.shared.next_tag();
        let (replies, receiver) = mpsc::channel(capacity);
        let command = Command::Send {
            sentence: request.tag(&tag).to_sentence(),
            tag: tag.clone(),
            replies,
        };
        self.inner
            .commands
            .send(command)
            .await
            .map_err(|_| self.inner.shared.error())?;
        Ok((tag, receiver))
    }

    /// Reads one command's replies to the end.
    async fn collect(&self, mut replies: mpsc::Receiver<Reply>) -> Result<Collected, ClientError> {
        let mut rows = Vec::new();
        let mut traps = Vec::new();
        let mut empty = false;
        loop {
            let next = if empty {
                match tokio::time::timeout(EMPTY_GRACE, replies.recv()).await {
                    Ok(next) => next,
                    Err(_) => Some(Reply::done()), // `!empty` without `!done`: complete anyway
                }
            } else {
                replies.recv().await
            };
            let Some(reply) = next else {
                return Err(self.inner.shared.error());
            };
            match reply.kind {
                ReplyKind::Re => rows.push(Row::from_reply(reply)),
                ReplyKind::Trap => traps.push(Trap::from_reply(&reply)),
                ReplyKind::Empty => empty = true,
                ReplyKind::Done if traps.is_empty() => {
                    let done = Row::from_reply(reply);
                    return Ok(Collected { rows, done });
                }
                ReplyKind::Done => return Err(ClientError::Trap(traps)),
                ReplyKind::Fatal => {} // handled by the connection task
            }
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    fn command_timeout(&self) -> Duration {
        self.inner.command_timeout
    }

    fn try_command(&self, command: Command) {
        // Best effort: if the queue is full the task still prunes the entry once its
        // receiver is gone.
        let _ = self.inner.commands.try_send(command);
    }
}

/// Tells the task to stop routing a one-shot command's tag when its waiter gives up.
struct ForgetOnDrop<'a> {
    commands: &'a mpsc::Sender<Command>,
    tag: Option<Vec<u8>>,
}

impl ForgetOnDrop<'_> {
    /// A command that ended normally has already been retired by the task.
    fn disarm_if(&mut self, finished: bool) {
        if finished {
            self.tag = None;
        }
    }
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(tag) = self.tag.take() {
            let _ = self.commands.try_send(Command::Forget(tag));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages() {
        let traps = vec![
            Trap {
                category: Some(0),
                message: "no such command or directory (routerboard)".into(),
            },
            Trap {
                category: None,
                message: "no such command prefix".into(),
            },
        ];
        let cases = [
            (
                ClientError::Trap(traps),
                "no such command or directory (routerboard), no such command prefix",
            ),
            (
                ClientError::Timeout("logging in"),
                "timed out while logging in",
            ),
            (
                ClientError::Login("invalid user name or password (6)".into()),
                "login failed: invalid user name or password (6)",
            ),
            (
                ClientError::Fatal("not logged in".into()),
                "the router ended the session: not logged in",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
