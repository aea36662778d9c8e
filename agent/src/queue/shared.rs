//! The queue shared by the producers (collectors, command runner) and the transport.
//!
//! File I/O (and its fsync) runs on tokio's blocking pool so no async task ever blocks on the
//! disk; a `Notify` wakes the transport when something new was appended.

use super::{DiskQueue, QueueError};
use crate::message::QueuedItem;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// A cloneable handle on one [`DiskQueue`].
#[derive(Clone, Debug)]
pub struct SharedQueue {
    inner: Arc<Mutex<DiskQueue>>,
    appended: Arc<Notify>,
}

impl SharedQueue {
    pub fn new(queue: DiskQueue) -> Self {
        Self {
            inner: Arc::new(Mutex::new(queue)),
            appended: Arc::new(Notify::new()),
        }
    }

    async fn with<T, F>(&self, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DiskQueue) -> Result<T, QueueError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut queue = inner.lock().map_err(|_| QueueError::Poisoned)?;
            f(&mut queue)
        })
        .await
        .map_err(|e| QueueError::Join(e.to_string()))?
    }

    /// Stores an item durably and wakes the transport.
    pub async fn push(&self, item: QueuedItem) -> Result<u64, QueueError> {
        let seq = self.with(move |q| q.push(item)).await?;
        self.appended.notify_one();
        Ok(seq)
    }

    /// See [`DiskQueue::read_from`].
    pub async fn read_from(
        &self,
        from: u64,
        max: usize,
    ) -> Result<Vec<(u64, QueuedItem)>, QueueError> {
        self.with(move |q| q.read_from(from, max)).await
    }

    /// See [`DiskQueue::ack_through`].
    pub async fn ack_through(&self, seq: u64) -> Result<(), QueueError> {
        self.with(move |q| q.ack_through(seq)).await
    }

    /// See [`DiskQueue::count_refused`].
    pub async fn count_refused(&self, seq: u64) -> Result<(), QueueError> {
        self.with(move |q| q.count_refused(seq)).await
    }

    /// See [`DiskQueue::take_dropped_unreported`].
    pub async fn take_dropped_unreported(&self) -> Result<u64, QueueError> {
        self.with(|q| q.take_dropped_unreported()).await
    }

    /// The lowest unacknowledged sequence (where a new connection starts sending).
    pub async fn head(&self) -> Result<u64, QueueError> {
        self.with(|q| Ok(q.head())).await
    }

    /// Items waiting for acknowledgement.
    pub async fn len(&self) -> Result<u64, QueueError> {
        self.with(|q| Ok(q.len())).await
    }

    /// Whether nothing waits for acknowledgement.
    pub async fn is_empty(&self) -> Result<bool, QueueError> {
        self.with(|q| Ok(q.is_empty())).await
    }

    /// Resolves when an item was appended since the last wake-up.
    pub async fn appended(&self) {
        self.appended.notified().await;
    }
}
