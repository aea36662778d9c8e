//! RouterOS pollers: the fleet actor keeps one [`poller::RouterPoller`] per router device,
//! started from the database at start-up and kept in step with device changes (created,
//! edited, deleted) announced by the runtime. Pollers are spread over their own arbiters so that
//! router I/O never shares a thread with device actors.

pub mod collect;
pub mod credentials;
pub mod logs;
pub mod poller;

use crate::pki::MasterKey;
use actix::prelude::*;
use centinela_actors::{DeviceChange, Runtime};
use centinela_model::{DeviceId, Scope};
use centinela_storage::routers::{self, RouterTarget};
use credentials::RouterCredentials;
pub use poller::{PollTarget, PollerSettings, RouterPoller, StopPoller};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use uuid::Uuid;

/// Opens a stored target: the credentials are unsealed here and nowhere else.
pub fn open_target(row: &RouterTarget, key: &MasterKey) -> Result<PollTarget, String> {
    let credentials =
        RouterCredentials::unseal(&row.sealed_credentials, key).map_err(|e| e.to_string())?;
    let port = u16::try_from(row.port).map_err(|_| format!("invalid port {}", row.port))?;
    Ok(PollTarget {
        device: DeviceId(row.device_id),
        host: row.host.clone(),
        port,
        tls: row.tls,
        verify_tls: row.verify_tls,
        credentials,
        last_log_id: row.last_log_id,
    })
}

/// A device change, forwarded from the runtime's broadcast.
#[derive(Message)]
#[rtype(result = "()")]
struct Changed(DeviceChange);

/// Routers (re)loaded from the database: one device's row (or none), or all of them, read
/// after change number `generation`.
#[derive(Message)]
#[rtype(result = "()")]
struct Loaded {
    device: Option<Uuid>,
    generation: u64,
    rows: Vec<RouterTarget>,
}

/// Stops every poller, each saving its log position first (graceful shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopAll;

/// Number of routers being polled.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct PollerCount;

/// The fleet of pollers.
pub struct RouterFleet {
    runtime: Runtime,
    key: Arc<MasterKey>,
    settings: Arc<PollerSettings>,
    shards: Vec<ArbiterHandle>,
    pollers: HashMap<Uuid, Addr<RouterPoller>>,
    /// Change counter, and the change number of each device's latest change: a load read
    /// before a device's latest change is stale for that device and ignored.
    generation: u64,
    changed_at: HashMap<Uuid, u64>,
}

/// Starts the fleet inside the running actix system.
pub fn start(runtime: Runtime, key: Arc<MasterKey>, settings: PollerSettings) -> Addr<RouterFleet> {
    let shards = (0..2).map(|_| Arbiter::new().handle()).collect();
    RouterFleet {
        runtime,
        key,
        settings: Arc::new(settings),
        shards,
        pollers: HashMap::new(),
        generation: 0,
        changed_at: HashMap::new(),
    }
    .start()
}

impl RouterFleet {
    fn shard(&self, device: Uuid) -> &ArbiterHandle {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        device.hash(&mut hasher);
        &self.shards[(hasher.finish() % self.shards.len() as u64) as usize]
    }

    fn stop(&mut self, device: Uuid) {
        if let Some(old) = self.pollers.remove(&device) {
            old.do_send(StopPoller);
        }
    }

    fn launch(&mut self, row: &RouterTarget) {
        self.stop(row.device_id);
        let target = match open_target(row, &self.key) {
            Ok(target) => target,
            Err(reason) => {
                tracing::error!(device_id = %row.device_id, %reason, "Router not polled: its credentials cannot be opened.");
                let runtime = self.runtime.clone();
                let device = DeviceId(row.device_id);
                let detail =
                    format!("las credenciales guardadas no se pueden descifrar ({reason})");
                actix::spawn(async move {
                    let _ = runtime.set_reachability(device, false, detail).await;
                });
                return;
            }
        };
        let runtime = self.runtime.clone();
        let settings = self.settings.clone();
        let addr = RouterPoller::start_in_arbiter(self.shard(row.device_id), move |_| {
            RouterPoller::new(target, runtime, settings)
        });
        self.pollers.insert(row.device_id, addr);
    }

    fn is_stale(&self, device: Uuid, generation: u64) -> bool {
        self.changed_at
            .get(&device)
            .is_some_and(|g| *g > generation)
    }

    fn load(&self, ctx: &mut Context<Self>, device: Option<Uuid>) {
        let store = self.runtime.store().clone();
        let me = ctx.address();
        let generation = self.generation;
        actix::spawn(async move {
            let result = async {
                let mut tx = store.begin(Scope::All).await?;
                let rows = match device {
                    Some(id) => routers::get(&mut tx, id).await?.into_iter().collect(),
                    None => routers::all(&mut tx).await?,
                };
                tx.commit()
                    .await
                    .map_err(centinela_storage::StorageError::from)?;
                Ok::<_, centinela_storage::StorageError>(rows)
            }
            .await;
            match result {
                Ok(rows) => me.do_send(Loaded {
                    device,
                    generation,
                    rows,
                }),
                Err(error) => tracing::error!(%error, "Routers not loaded."),
            }
        });
    }
}

impl Actor for RouterFleet {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let mut changes = self.runtime.device_changes();
        let me = ctx.address();
        actix::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(change) => me.do_send(Changed(change)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "Device changes missed; reloading every router.");
                        me.do_send(Changed(DeviceChange::Changed(Uuid::nil())));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        self.load(ctx, None);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        for (_, poller) in self.pollers.drain() {
            poller.do_send(StopPoller);
        }
    }
}

impl Handler<Loaded> for RouterFleet {
    type Result = ();
    fn handle(&mut self, msg: Loaded, _: &mut Context<Self>) {
        let fresh: Vec<&RouterTarget> = msg
            .rows
            .iter()
            .filter(|row| !self.is_stale(row.device_id, msg.generation))
            .collect();
        // Pollers whose router this load no longer shows (deleted, or not a router any more).
        let gone: Vec<Uuid> = match msg.device {
            Some(id) if msg.rows.is_empty() => vec![id],
            Some(_) => Vec::new(),
            None => self
                .pollers
                .keys()
                .filter(|id| !msg.rows.iter().any(|r| r.device_id == **id))
                .copied()
                .collect(),
        };
        for id in gone {
            if !self.is_stale(id, msg.generation) {
                self.stop(id);
            }
        }
        for row in fresh {
            self.launch(row);
        }
        tracing::info!(routers = self.pollers.len(), "Router pollers running.");
    }
}

impl Handler<Changed> for RouterFleet {
    type Result = ();
    fn handle(&mut self, msg: Changed, ctx: &mut Context<Self>) {
        self.generation += 1;
        match msg.0 {
            DeviceChange::Changed(id) if id.is_nil() => self.load(ctx, None),
            DeviceChange::Removed(id) => {
                self.changed_at.insert(id, self.generation);
                self.stop(id);
            }
            DeviceChange::Added(id) | DeviceChange::Changed(id) => {
                self.changed_at.insert(id, self.generation);
                self.stop(id);
                self.load(ctx, Some(id));
            }
        }
    }
}

impl Handler<StopAll> for RouterFleet {
    type Result = ResponseFuture<()>;
    fn handle(&mut self, _: StopAll, _: &mut Context<Self>) -> Self::Result {
        let stops: Vec<_> = self
            .pollers
            .drain()
            .map(|(_, poller)| poller.send(StopPoller))
            .collect();
        Box::pin(async move {
            for stop in stops {
                let _ = stop.await;
            }
        })
    }
}

impl Handler<PollerCount> for RouterFleet {
    type Result = usize;
    fn handle(&mut self, _: PollerCount, _: &mut Context<Self>) -> usize {
        self.pollers.len()
    }
}
