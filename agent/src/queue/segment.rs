//! One segment file of the queue: JSON lines `{"seq":N,"kind":...,"body":...}` appended in
//! sequence order, named after its first sequence number.
//!
//! Recovery reads lines until the first one that is incomplete or does not parse: a crash in
//! the middle of an append leaves at most a torn last line, which is cut off before appending
//! again so later lines are never glued to garbage.

use crate::message::QueuedItem;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Segment files end with this extension.
pub const SEGMENT_EXT: &str = "seg";

/// One stored line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    #[serde(flatten)]
    pub item: QueuedItem,
}

/// What the queue knows about a segment without holding its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMeta {
    /// Sequence number of its first item (also its file name).
    pub first_seq: u64,
    /// Sequence number of its last item.
    pub last_seq: u64,
    /// Its size on disk.
    pub bytes: u64,
}

/// The file name of the segment starting at `first_seq`.
pub fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.{SEGMENT_EXT}"))
}

/// The first sequence number encoded in a segment file name, if it is one.
pub fn parse_segment_name(path: &Path) -> Option<u64> {
    if path.extension()?.to_str()? != SEGMENT_EXT {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

/// The complete, parseable records of a segment and the byte length they occupy.
pub fn read_segment(path: &Path) -> std::io::Result<(Vec<Record>, u64)> {
    let bytes = std::fs::read(path)?;
    let mut records = Vec::new();
    let mut valid_len = 0usize;
    let mut rest = &bytes[..];
    while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
        match serde_json::from_slice::<Record>(&rest[..newline]) {
            Ok(record) => records.push(record),
            Err(_) => break,
        }
        valid_len += newline + 1;
        rest = &rest[newline + 1..];
    }
    Ok((records, valid_len as u64))
}

/// Encodes records as JSON lines.
pub fn encode(records: &[Record]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    for record in records {
        serde_json::to_writer(&mut out, record)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Opens a segment for appending, cutting a torn tail at `valid_len` first.
pub fn open_for_append(path: &Path, valid_len: u64) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    if file.metadata()?.len() != valid_len {
        file.set_len(valid_len)?;
        file.sync_all()?;
    }
    Ok(file)
}

/// Appends encoded lines and waits until they are on disk.
pub fn append(file: &mut File, lines: &[u8]) -> std::io::Result<()> {
    file.write_all(lines)?;
    file.sync_data()
}

/// Makes a created or removed directory entry durable (a no-op where directories cannot be
/// opened, such as Windows).
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
