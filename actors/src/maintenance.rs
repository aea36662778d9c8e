//! What is under maintenance: every window with its schedule, in memory, so that a device actor
//! can tell at once whether an alert it raises is suppressed. Reloaded at start, after every
//! change through the API, and every minute (windows written by another engine).

use centinela_model::Scope;
use centinela_model::maintenance::Schedule;
use centinela_storage::maintenance::{self, Window};
use centinela_storage::{Result, Store};
use chrono::{DateTime, Utc};
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// Every window with its schedule, as last loaded.
type Loaded = Arc<Vec<(Window, Schedule)>>;

/// A cheap, cloneable handle to the windows.
#[derive(Clone, Default, Debug)]
pub struct MaintenanceIndex {
    windows: Arc<RwLock<Loaded>>,
}

impl MaintenanceIndex {
    /// Reads every window (those with an invalid schedule are skipped and logged).
    pub async fn reload(&self, store: &Store) -> Result<()> {
        let mut tx = store.begin(Scope::All).await?;
        let all = maintenance::all(&mut tx).await?;
        tx.commit().await?;
        let mut loaded = Vec::with_capacity(all.len());
        for window in all {
            match window.schedule() {
                Ok(schedule) => loaded.push((window, schedule)),
                Err(error) => {
                    tracing::warn!(window_id = %window.id, %error, "Maintenance window skipped: invalid schedule.");
                }
            }
        }
        *self.windows.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        Ok(())
    }

    fn snapshot(&self) -> Loaded {
        self.windows
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The window covering a device of `tenant` at `at` (the device itself, its site or its
    /// tenant), if any.
    pub fn covering(
        &self,
        tenant: Uuid,
        site: Uuid,
        device: Uuid,
        at: DateTime<Utc>,
    ) -> Option<Uuid> {
        let windows = self.snapshot();
        windows
            .iter()
            .filter(|(w, _)| w.covers(tenant, Some(site), Some(device)))
            .find(|(_, s)| s.covering(at).is_some())
            .map(|(w, _)| w.id)
    }

    /// Whether window `id` exists and covers `at`.
    pub fn is_active(&self, id: Uuid, at: DateTime<Utc>) -> bool {
        self.snapshot()
            .iter()
            .any(|(w, s)| w.id == id && s.covering(at).is_some())
    }
}
