//! Command ids already accepted, persisted with their expiry beside the configuration.
//!
//! A signed command stays valid until its `expires_at`, so an attacker who captured one could
//! resend it; remembering every accepted id until it expires — across restarts, hence the
//! file — closes that window. Expired ids are pruned because expiry alone refuses them.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Kept a little past expiry so a skewed clock cannot reopen the window.
const KEEP_AFTER_EXPIRY: chrono::Duration = chrono::Duration::minutes(10);

/// Why the replay store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot write the replay store {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the replay store {path} is unreadable: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The set of accepted command ids.
#[derive(Debug)]
pub struct ReplayStore {
    path: PathBuf,
    seen: BTreeMap<String, DateTime<Utc>>,
}

impl ReplayStore {
    /// An empty store that is never written: for a verifier that refuses everything.
    pub fn in_memory() -> Self {
        Self {
            path: PathBuf::new(),
            seen: BTreeMap::new(),
        }
    }

    /// Loads the store; a missing file is an empty store, a corrupt one is an error (refusing
    /// every command is safer than forgetting which ones ran).
    pub fn open(path: &Path) -> Result<Self, ReplayError> {
        let seen = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ReplayError::Read {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(ReplayError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Ok(Self {
            path: path.to_owned(),
            seen,
        })
    }

    /// Whether this command id was accepted before.
    pub fn contains(&self, command_id: &str) -> bool {
        self.seen.contains_key(command_id)
    }

    /// Remembers an accepted id durably (before the command runs).
    pub fn record(
        &mut self,
        command_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), ReplayError> {
        self.seen.retain(|_, exp| *exp + KEEP_AFTER_EXPIRY > now);
        self.seen.insert(command_id.to_owned(), expires_at);
        let bytes = serde_json::to_vec_pretty(&self.seen).unwrap_or_default();
        crate::config::write_private(&self.path, &bytes).map_err(|source| ReplayError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Ids currently remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_restart_and_prunes_expired() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seen.json");
        let now = Utc::now();
        let mut store = ReplayStore::open(&path).expect("open");
        store
            .record("old", now - chrono::Duration::hours(1), now)
            .expect("record");
        let mut store = ReplayStore::open(&path).expect("reopen");
        assert!(store.contains("old"), "pruned only on the next write");
        store
            .record("new", now + chrono::Duration::hours(1), now)
            .expect("record");
        let store = ReplayStore::open(&path).expect("reopen");
        assert!(store.contains("new"));
        assert!(!store.contains("old"));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seen.json");
        std::fs::write(&path, b"{not json").expect("write");
        assert!(matches!(
            ReplayStore::open(&path),
            Err(ReplayError::Read { .. })
        ));
    }
}
