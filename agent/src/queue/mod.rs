//! Store-and-forward: every outgoing item is written to a bounded on-disk queue before any
//! transport sees it, and leaves the queue only once the server acknowledged it.
//!
//! Design: append-only segment files of JSON lines (see [`segment`]), each line carrying a
//! sequence number; a batch is fsynced before `push` returns. A small `state.json` holds the
//! head (the lowest sequence not yet acknowledged) and the drop counters; it is rewritten
//! atomically on every acknowledgement. A crash can therefore only cause re-delivery of the
//! items acknowledged after the last state write — at-least-once, never a loss.
//! Segments wholly below the head are deleted. Past `max_bytes`, whole segments are dropped
//! from the oldest end, their unacknowledged items counted (persisted, logged, and reported in
//! the next heartbeat as `"dropped": N`).

mod segment;
mod shared;
#[cfg(test)]
mod tests;

pub use shared::SharedQueue;

use crate::message::QueuedItem;
use segment::{Record, SegmentMeta};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Default bound of the queue on disk: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Largest segment file, so dropping the oldest segment loses a bounded slice.
const MAX_SEGMENT_BYTES: u64 = 4 * 1024 * 1024;
const STATE_FILE: &str = "state.json";

/// Why the queue could not store or read an item.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("queue item could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the queue lock was poisoned by a panic")]
    Poisoned,
    #[error("the queue worker task failed: {0}")]
    Join(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> QueueError + '_ {
    move |source| QueueError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The persisted part of the queue's bookkeeping.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct QueueState {
    head: u64,
    dropped_total: u64,
    dropped_unreported: u64,
}

/// The on-disk queue. Not thread-safe by itself; see [`SharedQueue`].
#[derive(Debug)]
pub struct DiskQueue {
    dir: PathBuf,
    max_bytes: u64,
    segment_max_bytes: u64,
    segments: VecDeque<SegmentMeta>,
    active: Option<File>,
    next_seq: u64,
    state: QueueState,
    /// Items of the one segment most recently read (keyed by its first sequence).
    cache: Option<(u64, Vec<Record>)>,
}

impl DiskQueue {
    /// Opens (or creates) the queue in `dir`, recovering what a previous run left.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, QueueError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        // Queued command results carry script output: owner only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_err(dir))?;
        }
        let state_path = dir.join(STATE_FILE);
        let mut state: QueueState = match std::fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => QueueState::default(),
        };
        let mut queue = Self {
            dir: dir.to_owned(),
            max_bytes: max_bytes.max(1),
            segment_max_bytes: (max_bytes / 8).clamp(1, MAX_SEGMENT_BYTES),
            segments: VecDeque::new(),
            active: None,
            next_seq: state.head,
            state: QueueState::default(),
            cache: None,
        };
        queue.recover_segments()?;
        if queue.segments.is_empty() {
            queue.next_seq = queue.next_seq.max(state.head);
        }
        if let Some(first) = queue.segments.front() {
            // Segments are contiguous, so nothing below the oldest one is still pending (this
            // matters when the state file was lost).
            state.head = state.head.max(first.first_seq);
        }
        state.head = state.head.min(queue.next_seq);
        queue.state = state;
        queue.remove_acked_segments()?;
        queue.save_state()?;
        Ok(queue)
    }

    fn recover_segments(&mut self) -> Result<(), QueueError> {
        let mut firsts: Vec<u64> = std::fs::read_dir(&self.dir)
            .map_err(io_err(&self.dir))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| segment::parse_segment_name(&entry.path()))
            .collect();
        firsts.sort_unstable();
        let count = firsts.len();
        for (index, first) in firsts.into_iter().enumerate() {
            let path = segment::segment_path(&self.dir, first);
            let (records, valid_len) = segment::read_segment(&path).map_err(io_err(&path))?;
            let Some(last) = records.last().map(|r| r.seq) else {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            };
            if index + 1 == count {
                // The newest segment keeps receiving appends; cut a torn tail first.
                let file = segment::open_for_append(&path, valid_len).map_err(io_err(&path))?;
                self.active = Some(file);
            }
            self.next_seq = last + 1;
            self.segments.push_back(SegmentMeta {
                first_seq: first,
                last_seq: last,
                bytes: valid_len,
            });
        }
        Ok(())
    }

    /// Appends one item; returns its sequence number.
    pub fn push(&mut self, item: QueuedItem) -> Result<u64, QueueError> {
        self.push_batch(vec![item]).map(|seqs| seqs.start)
    }

    /// Appends items with one fsync; returns their sequence numbers.
    pub fn push_batch(
        &mut self,
        items: Vec<QueuedItem>,
    ) -> Result<std::ops::Range<u64>, QueueError> {
        let start = self.next_seq;
        let records: Vec<Record> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Record {
                seq: start + i as u64,
                item,
            })
            .collect();
        if records.is_empty() {
            return Ok(start..start);
        }
        let lines = segment::encode(&records)?;
        let end = start + records.len() as u64;
        let must_rotate = self.segments.back().is_some_and(|last| {
            self.active.is_none() || last.bytes + lines.len() as u64 > self.segment_max_bytes
        });
        if must_rotate || self.segments.is_empty() {
            self.start_segment(start)?;
        }
        let path = self.active_path();
        let file = self.active.as_mut().ok_or_else(|| QueueError::Io {
            path: path.clone(),
            source: std::io::Error::other("no active segment"),
        })?;
        segment::append(file, &lines).map_err(io_err(&path))?;
        if let Some(last) = self.segments.back_mut() {
            last.last_seq = end - 1;
            last.bytes += lines.len() as u64;
            if let Some((first, cached)) = &mut self.cache
                && *first == last.first_seq
            {
                cached.extend(records);
            }
        }
        self.next_seq = end;
        self.enforce_bound()?;
        Ok(start..end)
    }

    fn active_path(&self) -> PathBuf {
        let first = self.segments.back().map(|s| s.first_seq).unwrap_or(0);
        segment::segment_path(&self.dir, first)
    }

    fn start_segment(&mut self, first_seq: u64) -> Result<(), QueueError> {
        let path = segment::segment_path(&self.dir, first_seq);
        let file = segment::open_for_append(&path, 0).map_err(io_err(&path))?;
        segment::sync_dir(&self.dir);
        self.active = Some(file);
        self.segments.push_back(SegmentMeta {
            first_seq,
            last_seq: first_seq.saturating_sub(1),
            bytes: 0,
        });
        Ok(())
    }

    /// Drops whole segments from the oldest end while the queue is over its bound.
    fn enforce_bound(&mut self) -> Result<(), QueueError> {
        let mut dropped = 0;
        while self.bytes() > self.max_bytes {
            let Some(oldest) = self.segments.pop_front() else {
                break;
            };
            let live_from = oldest.first_seq.max(self.state.head);
            dropped += (oldest.last_seq + 1).saturating_sub(live_from);
            self.state.head = self.state.head.max(oldest.last_seq + 1);
            self.delete_segment(&oldest)?;
        }
        if dropped > 0 {
            self.state.dropped_total += dropped;
            self.state.dropped_unreported += dropped;
            tracing::warn!(
                dropped,
                dropped_total = self.state.dropped_total,
                max_bytes = self.max_bytes,
                "Queue full: the oldest items were dropped."
            );
            self.save_state()?;
        }
        Ok(())
    }

    fn delete_segment(&mut self, meta: &SegmentMeta) -> Result<(), QueueError> {
        if self.segments.is_empty() {
            self.active = None;
        }
        if self
            .cache
            .as_ref()
            .is_some_and(|(f, _)| *f == meta.first_seq)
        {
            self.cache = None;
        }
        let path = segment::segment_path(&self.dir, meta.first_seq);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
        segment::sync_dir(&self.dir);
        Ok(())
    }

    /// Up to `max` items with sequence ≥ `from` (and ≥ the head), in order.
    pub fn read_from(
        &mut self,
        from: u64,
        max: usize,
    ) -> Result<Vec<(u64, QueuedItem)>, QueueError> {
        let mut from = from.max(self.state.head);
        let mut out = Vec::new();
        while out.len() < max && from < self.next_seq {
            let Some(meta) = self
                .segments
                .iter()
                .find(|s| s.last_seq >= from && s.bytes > 0)
                .cloned()
            else {
                break;
            };
            from = from.max(meta.first_seq);
            let records = self.segment_records(&meta)?;
            for record in records.iter().filter(|r| r.seq >= from) {
                if out.len() == max {
                    break;
                }
                out.push((record.seq, record.item.clone()));
            }
            from = meta.last_seq + 1;
        }
        Ok(out)
    }

    fn segment_records(&mut self, meta: &SegmentMeta) -> Result<&[Record], QueueError> {
        let cached = self
            .cache
            .as_ref()
            .is_some_and(|(f, _)| *f == meta.first_seq);
        if !cached {
            let path = segment::segment_path(&self.dir, meta.first_seq);
            let (records, _) = segment::read_segment(&path).map_err(io_err(&path))?;
            self.cache = Some((meta.first_seq, records));
        }
        Ok(self
            .cache
            .as_ref()
            .map(|(_, r)| r.as_slice())
            .unwrap_or(&[]))
    }

    /// Acknowledges every item up to and including `seq`.
    pub fn ack_through(&mut self, seq: u64) -> Result<(), QueueError> {
        let new_head = seq.saturating_add(1).min(self.next_seq);
        if new_head <= self.state.head {
            return Ok(());
        }
        self.state.head = new_head;
        self.remove_acked_segments()?;
        self.save_state()
    }

    /// Counts a refused item (the server will never accept it) as dropped. The transport
    /// then acknowledges it in order like any other, so nothing before it is skipped.
    pub fn count_refused(&mut self, seq: u64) -> Result<(), QueueError> {
        if seq >= self.state.head && seq < self.next_seq {
            self.state.dropped_total += 1;
            self.state.dropped_unreported += 1;
            self.save_state()?;
        }
        Ok(())
    }

    fn remove_acked_segments(&mut self) -> Result<(), QueueError> {
        while let Some(front) = self.segments.front() {
            if front.last_seq >= self.state.head && front.bytes > 0 {
                break;
            }
            if front.bytes == 0 && self.segments.len() == 1 {
                break; // a freshly started, still empty active segment
            }
            if let Some(meta) = self.segments.pop_front() {
                self.delete_segment(&meta)?;
            }
        }
        Ok(())
    }

    fn save_state(&self) -> Result<(), QueueError> {
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(".state.json.tmp");
        let bytes = serde_json::to_vec(&self.state)?;
        std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    /// Items dropped since the last call (for the heartbeat); resets the count.
    pub fn take_dropped_unreported(&mut self) -> Result<u64, QueueError> {
        let n = std::mem::take(&mut self.state.dropped_unreported);
        if n > 0 {
            self.save_state()?;
        }
        Ok(n)
    }

    /// Items dropped over the queue's whole life.
    pub fn dropped_total(&self) -> u64 {
        self.state.dropped_total
    }

    /// The lowest sequence not yet acknowledged.
    pub fn head(&self) -> u64 {
        self.state.head
    }

    /// Items waiting for acknowledgement.
    pub fn len(&self) -> u64 {
        self.next_seq - self.state.head
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of segment files on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }
}
