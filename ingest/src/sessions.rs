//! Live device sessions (MQTT connections and `/ws/agent` sockets), so that each device's are
//! capped and a deleted device or a replaced token loses them within seconds.
//!
//! A transport opens a [`Lease`] when a device's session starts (refused past the transport's
//! cap) and holds it for the session's life; dropping it forgets the session. The lease's
//! [`Lease::closed`] completes when the engine wants the session ended. Two paths end them:
//! the runtime's `DeviceChange::Removed` (the API deleted the device: at once), and a periodic
//! re-check of every live session's device and token hash against the database (a token
//! replaced or a device deleted by any other path, another engine node included).

use centinela_actors::{DeviceChange, Runtime, Telemetry};
use centinela_model::Scope;
use centinela_storage::devices;
use dashmap::DashMap;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// The transport a session runs on (a label on `/metrics`, and each has its own cap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Mqtt,
    Ws,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Mqtt => "mqtt",
            Transport::Ws => "ws",
        }
    }
}

/// Why a session could not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("the device already has {0} sessions on this transport")]
    TooMany(usize),
}

struct Live {
    id: u64,
    transport: Transport,
    /// MQTT client id: a CONNECT with the id of a live connection replaces it, so it does not
    /// count against the cap.
    client_id: Option<String>,
    token_hash: Vec<u8>,
    close: Arc<Notify>,
}

struct Inner {
    by_device: DashMap<Uuid, Vec<Live>>,
    next: AtomicU64,
    telemetry: Arc<Telemetry>,
}

/// The registry of live device sessions; cheap to clone.
#[derive(Clone)]
pub struct DeviceSessions {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DeviceSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSessions")
            .field("devices", &self.inner.by_device.len())
            .finish()
    }
}

/// What opens a session.
#[derive(Debug, Clone, Copy)]
pub struct Opening<'a> {
    pub device: Uuid,
    pub transport: Transport,
    pub client_id: Option<&'a str>,
    /// `centinela_storage::token_hash` of the token the session logged in with.
    pub token_hash: &'a [u8],
    /// Sessions of this device on this transport allowed at once.
    pub limit: usize,
}

impl DeviceSessions {
    pub fn new(telemetry: Arc<Telemetry>) -> DeviceSessions {
        DeviceSessions {
            inner: Arc::new(Inner {
                by_device: DashMap::new(),
                next: AtomicU64::new(1),
                telemetry,
            }),
        }
    }

    /// Registers a session, unless the device already has `limit` on this transport.
    pub fn open(&self, opening: Opening<'_>) -> Result<Lease, SessionError> {
        let mut live = self.inner.by_device.entry(opening.device).or_default();
        let counted = live
            .iter()
            .filter(|s| s.transport == opening.transport)
            .filter(|s| opening.client_id.is_none() || s.client_id.as_deref() != opening.client_id)
            .count();
        if counted >= opening.limit {
            return Err(SessionError::TooMany(counted));
        }
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let close = Arc::new(Notify::new());
        live.push(Live {
            id,
            transport: opening.transport,
            client_id: opening.client_id.map(str::to_owned),
            token_hash: opening.token_hash.to_vec(),
            close: close.clone(),
        });
        Ok(Lease {
            sessions: self.clone(),
            device: opening.device,
            id,
            close,
        })
    }

    /// Sessions of a device now (all transports).
    pub fn count(&self, device: Uuid) -> usize {
        self.inner.by_device.get(&device).map_or(0, |l| l.len())
    }

    /// Ends every session of a device; returns how many were told.
    pub fn close_device(&self, device: Uuid, reason: &str) -> usize {
        self.close_where(device, reason, |_| true)
    }

    fn close_where(&self, device: Uuid, reason: &str, pick: impl Fn(&Live) -> bool) -> usize {
        let Some(live) = self.inner.by_device.get(&device) else {
            return 0;
        };
        let picked: Vec<(Transport, Arc<Notify>)> = live
            .iter()
            .filter(|s| pick(s))
            .map(|s| (s.transport, s.close.clone()))
            .collect();
        drop(live);
        for (transport, close) in &picked {
            // A stored permit: a session not yet waiting still sees it.
            close.notify_one();
            self.inner
                .telemetry
                .session_closed(transport.as_str(), reason);
        }
        if !picked.is_empty() {
            tracing::info!(device_id = %device, sessions = picked.len(), reason, "Device sessions closed.");
        }
        picked.len()
    }

    fn forget(&self, device: Uuid, id: u64) {
        self.inner.by_device.remove_if_mut(&device, |_, live| {
            live.retain(|s| s.id != id);
            live.is_empty()
        });
    }

    /// Closes the sessions whose device is gone or whose token is no longer the device's.
    pub async fn recheck(
        &self,
        runtime: &Runtime,
    ) -> Result<usize, centinela_storage::StorageError> {
        let ids: Vec<Uuid> = self.inner.by_device.iter().map(|e| *e.key()).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = runtime.store().begin(Scope::All).await?;
        let current: HashMap<Uuid, Vec<u8>> = devices::token_hashes(&mut tx, &ids)
            .await?
            .into_iter()
            .collect();
        tx.commit().await?;
        let mut closed = 0;
        for device in ids {
            let token = current.get(&device);
            closed += self.close_where(device, "revoked", |s| token != Some(&s.token_hash));
        }
        Ok(closed)
    }

    /// Follows device deletions from the runtime and re-checks live sessions every `every`.
    pub fn watch(&self, runtime: Runtime, every: Duration) {
        let sessions = self.clone();
        let mut changes = runtime.device_changes();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    change = changes.recv() => match change {
                        Ok(DeviceChange::Removed(device)) => {
                            sessions.close_device(device, "revoked");
                        }
                        Ok(_) => {}
                        // Missed notices are caught by the next re-check.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {
                        if let Err(error) = sessions.recheck(&runtime).await {
                            tracing::warn!(%error, "Live device sessions could not be re-checked; will retry.");
                        }
                    }
                }
            }
        });
    }
}

/// A live session's registration; dropping it forgets the session.
pub struct Lease {
    sessions: DeviceSessions,
    device: Uuid,
    id: u64,
    close: Arc<Notify>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("device", &self.device)
            .field("id", &self.id)
            .finish()
    }
}

impl Lease {
    /// Completes when the engine wants this session ended.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let close = self.close.clone();
        async move { close.notified().await }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.sessions.forget(self.device, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opening(device: Uuid, client_id: Option<&str>) -> Opening<'_> {
        Opening {
            device,
            transport: Transport::Mqtt,
            client_id,
            token_hash: b"h",
            limit: 2,
        }
    }

    #[tokio::test]
    async fn caps_per_device_and_transport_and_forgets_on_drop() {
        let sessions = DeviceSessions::new(Arc::new(Telemetry::new()));
        let device = Uuid::new_v4();
        let a = sessions.open(opening(device, Some("a"))).unwrap();
        let _b = sessions.open(opening(device, Some("b"))).unwrap();
        assert_eq!(
            sessions.open(opening(device, Some("c"))).unwrap_err(),
            SessionError::TooMany(2)
        );
        // The same client id replaces its connection: not counted against the cap.
        let _a2 = sessions.open(opening(device, Some("a"))).unwrap();
        // Another transport has its own cap; another device is not affected.
        let ws = Opening {
            transport: Transport::Ws,
            client_id: None,
            ..opening(device, None)
        };
        let _w = sessions.open(ws).unwrap();
        let _other = sessions.open(opening(Uuid::new_v4(), Some("c"))).unwrap();
        drop(a);
        assert_eq!(sessions.count(device), 3);
    }

    #[tokio::test]
    async fn closing_a_device_wakes_its_sessions_even_before_they_wait() {
        let sessions = DeviceSessions::new(Arc::new(Telemetry::new()));
        let device = Uuid::new_v4();
        let lease = sessions.open(opening(device, Some("a"))).unwrap();
        let other = sessions.open(opening(Uuid::new_v4(), Some("a"))).unwrap();
        assert_eq!(sessions.close_device(device, "revoked"), 1);
        tokio::time::timeout(Duration::from_secs(1), lease.closed())
            .await
            .expect("closed");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), other.closed())
                .await
                .is_err()
        );
    }
}
