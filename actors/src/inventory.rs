//! Inventories are written off the ingest path. An inventory is a snapshot that replaces the
//! previous one, so only the latest of each device waits here (memory: one per device) and a
//! task writes them, each device in its own transaction. Ingest never waits on PostgreSQL for
//! one: a device whose write fails cannot hold the transport that carries other devices'
//! telemetry and alerts. A transient failure keeps the snapshot for the next pass (unless a
//! newer one arrived); a refusal on its data makes it a dead letter with PostgreSQL's reason.

use crate::telemetry::Telemetry;
use crate::writer::WriterHandle;
use centinela_model::Scope;
use centinela_storage::dead_letters::DeadLetter;
use centinela_storage::{StorageError, Store, devices};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

struct Snapshot {
    tenant_id: Uuid,
    inventory: Value,
    at: DateTime<Utc>,
}

/// The latest unwritten inventory of each device, and the task that writes them.
#[derive(Clone, Default)]
pub struct Inventories {
    pending: Arc<Mutex<HashMap<Uuid, Snapshot>>>,
    wake: Arc<Notify>,
}

impl Inventories {
    /// Takes a device's inventory; a previous unwritten one is replaced.
    pub fn put(&self, tenant_id: Uuid, device: Uuid, inventory: Value, at: DateTime<Utc>) {
        let snapshot = Snapshot {
            tenant_id,
            inventory,
            at,
        };
        self.lock().insert(device, snapshot);
        self.wake.notify_one();
    }

    /// Inventories waiting to be written.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Snapshot>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the task that writes them until the writer stops.
    pub fn spawn(&self, store: Store, telemetry: Arc<Telemetry>, writer: WriterHandle) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                this.wake.notified().await;
                while !this.write_pending(&store, &telemetry, &writer).await {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                backoff = Duration::from_millis(100);
            }
        });
    }

    /// One pass over what is pending; false when some write failed for a transient reason and
    /// is to be tried again.
    pub async fn write_pending(
        &self,
        store: &Store,
        telemetry: &Telemetry,
        writer: &WriterHandle,
    ) -> bool {
        let batch: Vec<(Uuid, Snapshot)> = self.lock().drain().collect();
        let mut all_done = true;
        for (device, snapshot) in batch {
            match write_one(store, device, &snapshot).await {
                Ok(()) => {}
                Err(error) if error.is_data_error() => {
                    tracing::warn!(%device, %error, "Inventory refused by PostgreSQL; kept as a dead letter.");
                    telemetry.dead_letter("inventory", "data_error");
                    let letter = DeadLetter {
                        tenant_id: snapshot.tenant_id,
                        device_id: device,
                        kind: "inventory".into(),
                        reason: "data_error".into(),
                        detail: error.to_string(),
                        payload: snapshot.inventory.to_string().into_bytes(),
                    };
                    let _ = writer.dead_letter(letter).await;
                }
                Err(error) => {
                    telemetry.write_failures.inc();
                    tracing::warn!(%device, %error, "Inventory not written; retrying.");
                    self.lock().entry(device).or_insert(snapshot);
                    all_done = false;
                }
            }
        }
        all_done
    }
}

async fn write_one(store: &Store, device: Uuid, snapshot: &Snapshot) -> Result<(), StorageError> {
    let mut tx = store.begin(Scope::All).await?;
    devices::set_inventory(&mut tx, device, &snapshot.inventory, snapshot.at).await?;
    tx.commit().await?;
    Ok(())
}
