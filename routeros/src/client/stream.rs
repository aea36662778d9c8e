//! Streaming commands (`/log/listen`, `print =follow=`, `monitor-traffic`) and their `/cancel`.
//!
//! Why a type of its own: a stream has no natural end, so it needs an explicit `cancel` that
//! waits for the command's `!done` (RouterOS sends `!trap interrupted`, possibly `!empty`, then
//! `!done`, §1.7), and a `Drop` that retires the tag so late sentences are dropped instead of
//! filling a channel nobody reads.

use tokio::sync::mpsc;

use super::connection::Command;
use super::{Client, ClientError, Row, Trap};
use crate::codec::{Reply, ReplyKind, Request};

/// Rows of one streaming command. Dropping it cancels the command (best effort).
pub struct Stream {
    client: Client,
    tag: Vec<u8>,
    replies: mpsc::Receiver<Reply>,
    /// Traps seen so far; reported together when `!done` arrives (kept here for cancel-safety).
    traps: Vec<Trap>,
    /// The command has ended (or its end was reported); nothing left to cancel.
    finished: bool,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("tag", &String::from_utf8_lossy(&self.tag))
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Stream {
    pub(super) fn new(client: Client, tag: Vec<u8>, replies: mpsc::Receiver<Reply>) -> Self {
        Self {
            client,
            tag,
            replies,
            traps: Vec::new(),
            finished: false,
        }
    }

    /// Next row; `None` when the command finished (`!done`); `Err` on trap (all traps of the
    /// command together), `!fatal` or a closed connection. After an `Err`, `None` follows.
    /// Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<Row, ClientError>> {
        while !self.finished {
            let Some(reply) = self.replies.recv().await else {
                self.finished = true;
                return Some(Err(self.client.shared().error()));
            };
            match reply.kind {
                ReplyKind::Re if self.traps.is_empty() => return Some(Ok(Row::from_reply(reply))),
                ReplyKind::Trap => self.traps.push(Trap::from_reply(&reply)),
                ReplyKind::Done => {
                    self.finished = true;
                    let traps = std::mem::take(&mut self.traps);
                    return (!traps.is_empty()).then_some(Err(ClientError::Trap(traps)));
                }
                // `!empty` means no rows; rows after a trap are not data of a live command.
                ReplyKind::Re | ReplyKind::Empty | ReplyKind::Fatal => {}
            }
        }
        None
    }

    /// Sends `/cancel =tag=T` and waits (bounded by the command timeout) for the command's end;
    /// the `interrupted` trap is expected and not an error. Trailing sentences of the retired
    /// tag are dropped by the connection task.
    pub async fn cancel(mut self) -> Result<(), ClientError> {
        if self.finished {
            return Ok(());
        }
        // From here on the tag is retired whatever happens; `Drop` has nothing left to do.
        self.finished = true;
        let client = self.client.clone();
        let cancel = Request::new("/cancel").attr("tag", &self.tag);
        let replies = &mut self.replies;
        // Draining while `/cancel` is sent keeps a full channel from stalling the connection.
        let drain = async {
            loop {
                match replies.recv().await {
                    Some(reply) if reply.kind == ReplyKind::Done => return Ok(()),
                    Some(_) => {}
                    None => return Err(client.shared().error()),
                }
            }
        };
        let drain = tokio::time::timeout(client.command_timeout(), drain);
        let (cancelled, drained) = tokio::join!(client.run(cancel), drain);
        match cancelled {
            // A trap means the command had already ended; the drain has seen its `!done`.
            Ok(_) | Err(ClientError::Trap(_)) => {}
            Err(error) => return Err(error),
        }
        drained.map_err(|_| ClientError::Timeout("waiting for a cancelled command to end"))?
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.finished {
            let cancel_tag = self.client.shared().next_tag();
            self.client.try_command(Command::Cancel {
                tag: std::mem::take(&mut self.tag),
                cancel_tag,
            });
        }
    }
}
