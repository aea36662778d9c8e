//! Streaming commands, each a task that sends encoded, tagged `!re` sentences to its session.
//!
//! A stream never ends by itself: the session aborts it on `/cancel` (or when the connection
//! closes) and then writes the `!trap interrupted` / `!done` itself, so the §1.7 ordering holds.
//! Sends go through a bounded channel: a client that stops reading applies backpressure to the
//! stream instead of growing memory. Every sentence of a sample is sent as one chunk, and a
//! task aborted at a send leaves no partial chunk behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use centinela_routeros::codec::Reply;
use tokio::sync::{broadcast, mpsc};

use crate::commands::{StreamSpec, re};
use crate::menus;
use crate::router::Router;

/// Where a stream writes, and what it reports back to the session.
#[derive(Debug, Clone)]
pub(crate) struct StreamOutput {
    pub(crate) tag: Option<Vec<u8>>,
    pub(crate) out: mpsc::Sender<Vec<u8>>,
    /// Rows sent so far (the session sends `!empty` on cancel for a data-less stream).
    pub(crate) rows_sent: Arc<AtomicU64>,
}

impl StreamOutput {
    /// Tags, encodes and sends `replies` as one chunk; false once the session is gone.
    async fn send(&self, replies: Vec<Reply>) -> bool {
        if replies.is_empty() {
            return true;
        }
        let mut bytes = Vec::new();
        let count = replies.len() as u64;
        for reply in replies {
            reply
                .with_tag(self.tag.as_deref())
                .to_sentence()
                .encode(&mut bytes);
        }
        let sent = self.out.send(bytes).await.is_ok();
        if sent {
            self.rows_sent.fetch_add(count, Ordering::Relaxed);
        }
        sent
    }
}

/// Runs a stream until the session goes away (or the task is aborted).
pub(crate) async fn run(spec: StreamSpec, router: Arc<Router>, output: StreamOutput) {
    match spec {
        StreamSpec::Log {
            backlog,
            entries: mut new_entries,
            query,
            proplist,
        } => {
            let rows = backlog
                .iter()
                .map(|entry| menus::log_row(&router, entry))
                .filter(|row| query.matches(row))
                .map(|row| re(&row, &proplist))
                .collect();
            if !output.send(rows).await {
                return;
            }
            loop {
                let entry = match new_entries.recv().await {
                    Ok(entry) => entry,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let row = menus::log_row(&router, &entry);
                if query.matches(&row) && !output.send(vec![re(&row, &proplist)]).await {
                    return;
                }
            }
        }
        StreamSpec::Monitor {
            links,
            interval,
            proplist,
        } => {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for section in 0u64.. {
                tick.tick().await;
                let sample = links
                    .iter()
                    .filter_map(|i| router.links.get(*i))
                    .map(|link| {
                        re(&menus::monitor_row(&router, link), &proplist)
                            .attr(".section", section.to_string())
                    })
                    .collect();
                if !output.send(sample).await {
                    return;
                }
            }
        }
        StreamSpec::Static { rows } => {
            if output.send(rows).await {
                std::future::pending::<()>().await;
            }
        }
    }
}
