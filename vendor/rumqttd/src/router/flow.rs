//! Centinela patch: publisher flow control tied to one consumer's progress.
//!
//! Upstream rumqttd acknowledges a QoS 1 publish as soon as the router has appended it to the
//! commitlog, and the commitlog drops its oldest segment when it is full, whether or not every
//! subscriber has read it. A subscriber slower than the publishers therefore loses messages the
//! publishers were told had been received.
//!
//! With a [`FlowControl`] in the router configuration, the router counts the bytes appended to
//! the filters one named consumer (a local link, by client id) subscribes to and not yet
//! forwarded to it. When that backlog reaches `max_unread_bytes` the [`FlowGate`] closes: every
//! remote link stops reading from its socket (TCP flow control then slows the publishers) while
//! still writing acknowledgements and pings. It opens again once the backlog is below half the
//! limit. Nothing is dropped, and memory stays bounded by the limit plus what the links had
//! already read when the gate closed.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

use super::logs::DataLog;
use super::FilterIdx;
use crate::ConnectionId;

/// The consumer whose progress paces the publishers.
#[derive(Clone, Debug)]
pub struct FlowControl {
    /// Client id of the consumer (a local link).
    pub client_id: String,
    /// Backlog, in bytes of topic and payload, at which publishers are paused.
    pub max_unread_bytes: u64,
    /// The gate shared with the remote links; keep a clone to read its counters.
    pub gate: FlowGate,
}

/// Open or closed; shared by the router (which sets it) and the remote links (which obey it).
#[derive(Clone)]
pub struct FlowGate {
    inner: Arc<Inner>,
}

struct Inner {
    closed: watch::Sender<bool>,
    closings: AtomicU64,
    closed_micros: AtomicU64,
    unread_bytes: AtomicU64,
    /// Centinela patch: set by [`FlowGate::shut`]; the router's flow control never reopens it.
    shut: AtomicBool,
}

impl fmt::Debug for FlowGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowGate")
            .field("closed", &self.is_closed())
            .field("closings", &self.closings())
            .finish()
    }
}

impl Default for FlowGate {
    fn default() -> Self {
        Self::new()
    }
}

impl FlowGate {
    pub fn new() -> FlowGate {
        let (closed, _) = watch::channel(false);
        FlowGate {
            inner: Arc::new(Inner {
                closed,
                closings: AtomicU64::new(0),
                closed_micros: AtomicU64::new(0),
                unread_bytes: AtomicU64::new(0),
                shut: AtomicBool::new(false),
            }),
        }
    }

    /// True while publishers are paused.
    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    /// How many times the gate has closed.
    pub fn closings(&self) -> u64 {
        self.inner.closings.load(Ordering::Relaxed)
    }

    /// Total time the gate has been closed, in microseconds (closed periods that ended).
    pub fn closed_micros(&self) -> u64 {
        self.inner.closed_micros.load(Ordering::Relaxed)
    }

    /// The consumer's backlog as last computed by the router, in bytes.
    pub fn unread_bytes(&self) -> u64 {
        self.inner.unread_bytes.load(Ordering::Relaxed)
    }

    /// Centinela patch: closes the gate for good (the engine is shutting down). Remote links
    /// stop reading from their sockets at once, even mid-wait, so nothing more is acknowledged;
    /// what was acknowledged before stays in the log for the consumer to drain.
    pub fn shut(&self) {
        self.inner.shut.store(true, Ordering::SeqCst);
        self.inner.closed.send_replace(true);
    }

    /// True once [`FlowGate::shut`] was called.
    pub fn is_shut(&self) -> bool {
        self.inner.shut.load(Ordering::SeqCst)
    }

    /// Resolves once the gate is closed (at once if it is).
    pub(crate) async fn closed(&self) {
        let mut rx = self.inner.closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// Resolves once the gate is open (at once if it is).
    pub(crate) async fn opened(&self) {
        let mut rx = self.inner.closed.subscribe();
        // The sender lives as long as this gate, so waiting cannot fail.
        let _ = rx.wait_for(|closed| !*closed).await;
    }

    fn set(&self, closed: bool) {
        if !closed && self.is_shut() {
            return;
        }
        self.inner.closed.send_replace(closed);
    }
}

/// The router's side: which connection is the consumer and how far it has read each filter.
pub(crate) struct FlowState {
    config: FlowControl,
    consumer: Option<ConnectionId>,
    /// Bytes of each filter the consumer has been forwarded (or skipped when caught up),
    /// in the units of `Data::appended_bytes`.
    read: HashMap<FilterIdx, u64>,
    closed_since: Option<Instant>,
}

impl FlowState {
    pub(crate) fn new(config: FlowControl) -> FlowState {
        FlowState {
            config,
            consumer: None,
            read: HashMap::new(),
            closed_since: None,
        }
    }

    pub(crate) fn connected(&mut self, id: ConnectionId, client_id: &str) {
        if client_id == self.config.client_id {
            self.consumer = Some(id);
            self.read.clear();
        }
    }

    pub(crate) fn disconnected(&mut self, id: ConnectionId) {
        if self.consumer == Some(id) {
            self.consumer = None;
            self.read.clear();
        }
    }

    pub(crate) fn is_consumer(&self, id: ConnectionId) -> bool {
        self.consumer == Some(id)
    }

    /// Records how far the consumer has read `filter_idx`.
    pub(crate) fn read_up_to(&mut self, filter_idx: FilterIdx, bytes: u64) {
        self.read.insert(filter_idx, bytes);
    }

    /// Recomputes the backlog and opens or closes the gate.
    pub(crate) fn update(&mut self, datalog: &DataLog) {
        let unread: u64 = self
            .read
            .iter()
            .filter_map(|(idx, read)| {
                let appended = datalog.native.get(*idx)?.appended_bytes;
                Some(appended.saturating_sub(*read))
            })
            .sum();
        let gate = &self.config.gate;
        gate.inner.unread_bytes.store(unread, Ordering::Relaxed);
        let limit = self.config.max_unread_bytes;
        match self.closed_since {
            None if unread >= limit => {
                self.closed_since = Some(Instant::now());
                gate.inner.closings.fetch_add(1, Ordering::Relaxed);
                gate.set(true);
            }
            Some(since) if unread <= limit / 2 => {
                self.closed_since = None;
                let micros = since.elapsed().as_micros().min(u64::MAX as u128) as u64;
                gate.inner.closed_micros.fetch_add(micros, Ordering::Relaxed);
                gate.set(false);
            }
            _ => {}
        }
    }
}
