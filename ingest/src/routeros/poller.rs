//! The poller actor: one per router. It keeps one API connection (shared by the periodic polls,
//! run as concurrent tagged commands, and the log follower), polls on an interval with jitter,
//! reconnects with exponential backoff, and reports the router offline after consecutive
//! failures. Every network step has a timeout, and the actor only ever awaits inside spawned
//! futures, so a slow or dead router delays nobody else.

use super::collect::{self, Counters};
use super::logs::{self, Follow, LogCursor, RouterClock};
use crate::routeros::credentials::RouterCredentials;
use actix::prelude::*;
use centinela_actors::{IngestError, Runtime};
use centinela_model::DeviceId;
use centinela_model::payload::AgentMessage;
use centinela_routeros::client::{Client, ClientConfig, ClientError, Row};
use centinela_routeros::codec::Request;
use chrono::Utc;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How pollers behave.
#[derive(Clone, Debug)]
pub struct PollerSettings {
    /// Time between polls of one router.
    pub interval: Duration,
    /// Random spread of each wait, as a fraction of it (0.1 = ±10 %), so that hundreds of
    /// routers do not poll in lockstep.
    pub jitter: f64,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// Consecutive failed attempts before the router is reported offline.
    pub offline_after: u32,
}

impl Default for PollerSettings {
    fn default() -> Self {
        PollerSettings {
            interval: Duration::from_secs(30),
            jitter: 0.1,
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(10),
            offline_after: 3,
        }
    }
}

/// Where and how to reach one router.
#[derive(Clone, Debug)]
pub struct PollTarget {
    pub device: DeviceId,
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub verify_tls: bool,
    pub credentials: RouterCredentials,
    pub last_log_id: Option<i64>,
}

/// Stops a poller (device deleted or changed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopPoller;

struct Session {
    client: Client,
    logs: Option<logs::FollowerHandle>,
    inventory_sent: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        let client = self.client.clone();
        tokio::spawn(async move { client.close().await });
    }
}

struct PollState {
    session: Option<Session>,
    failures: u32,
    offline_reported: bool,
    counters: HashMap<String, Counters>,
    last_uptime: Option<Duration>,
    cursor: Arc<LogCursor>,
    clock: Arc<RouterClock>,
    persisted_log_id: Option<i64>,
}

/// The poller actor.
pub struct RouterPoller {
    target: Arc<PollTarget>,
    runtime: Runtime,
    settings: Arc<PollerSettings>,
    /// Also inside `state`; kept here so that stopping mid-poll can still save it.
    cursor: Arc<LogCursor>,
    state: Option<PollState>,
}

impl RouterPoller {
    pub fn new(target: PollTarget, runtime: Runtime, settings: Arc<PollerSettings>) -> Self {
        let cursor = Arc::new(LogCursor::new(target.last_log_id));
        RouterPoller {
            cursor: cursor.clone(),
            state: Some(PollState {
                session: None,
                failures: 0,
                offline_reported: false,
                counters: HashMap::new(),
                last_uptime: None,
                cursor,
                clock: Arc::new(RouterClock::default()),
                persisted_log_id: target.last_log_id,
            }),
            target: Arc::new(target),
            runtime,
            settings,
        }
    }

    fn schedule(&mut self, ctx: &mut Context<Self>, delay: Duration) {
        ctx.run_later(delay, |actor, ctx| actor.run_cycle(ctx));
    }

    fn run_cycle(&mut self, ctx: &mut Context<Self>) {
        let Some(state) = self.state.take() else {
            return;
        };
        let work = cycle(
            state,
            self.target.clone(),
            self.runtime.clone(),
            self.settings.clone(),
        );
        ctx.spawn(work.into_actor(self).map(|(state, delay), actor, ctx| {
            actor.state = Some(state);
            actor.schedule(ctx, delay);
        }));
    }
}

impl Actor for RouterPoller {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Spread the first polls of many routers over the first interval.
        let first = self
            .settings
            .interval
            .mul_f64(rand::rng().random_range(0.0..1.0));
        self.schedule(ctx, first);
    }
}

impl Handler<StopPoller> for RouterPoller {
    type Result = ResponseActFuture<Self, ()>;

    /// Saves the log position, then stops (dropping the connection and the follower).
    fn handle(&mut self, _: StopPoller, _: &mut Context<Self>) -> Self::Result {
        let runtime = self.runtime.clone();
        let device = self.target.device;
        let cursor = self.cursor.get();
        let save = async move {
            logs::save_cursor(&runtime, device, cursor).await;
        };
        Box::pin(save.into_actor(self).map(|(), _, ctx| ctx.stop()))
    }
}

fn jittered(base: Duration, jitter: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 0.5);
    if jitter == 0.0 {
        return base;
    }
    base.mul_f64(rand::rng().random_range(1.0 - jitter..1.0 + jitter))
}

/// One poll (connecting first if needed); returns the state and the wait before the next.
async fn cycle(
    mut state: PollState,
    target: Arc<PollTarget>,
    runtime: Runtime,
    settings: Arc<PollerSettings>,
) -> (PollState, Duration) {
    match poll_once(&mut state, &target, &runtime, &settings).await {
        Ok(()) => {
            state.failures = 0;
            state.offline_reported = false;
            persist_log_cursor(&mut state, &target, &runtime).await;
            (state, jittered(settings.interval, settings.jitter))
        }
        Err(PollError::Engine(error)) => {
            // The engine could not take the data (database trouble): not the router's fault,
            // so neither a failure towards offline nor a reason to drop the session.
            tracing::warn!(device_id = %target.device.0, error = %error, "Router data not taken; retrying next poll.");
            (state, jittered(settings.interval, settings.jitter))
        }
        Err(error) => {
            state.session = None;
            state.failures += 1;
            tracing::warn!(device_id = %target.device.0, host = %target.host, port = target.port,
                failures = state.failures, error = %error, "Router poll failed.");
            if state.failures >= settings.offline_after && !state.offline_reported {
                let detail = error.to_string();
                match runtime.set_reachability(target.device, false, detail).await {
                    Ok(()) => state.offline_reported = true,
                    Err(e) => {
                        tracing::warn!(device_id = %target.device.0, error = %e, "Offline state not recorded.")
                    }
                }
            }
            // 1 s, 2 s, 4 s … up to the poll interval.
            let exponent = state.failures.saturating_sub(1).min(16);
            let backoff = Duration::from_secs(1 << exponent).min(settings.interval);
            (state, jittered(backoff, settings.jitter.max(0.2)))
        }
    }
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("the engine did not take the data: {0}")]
    Engine(#[from] IngestError),
}

/// Public CAs, for routers whose certificate is verified (`verify_tls`).
fn public_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

async fn connect(target: &PollTarget, settings: &PollerSettings) -> Result<Client, ClientError> {
    let mut config = ClientConfig::new(
        target.host.clone(),
        target.port,
        target.credentials.username.clone(),
        target.credentials.password.clone(),
    );
    config.tls = target.tls;
    config.accept_invalid_certs = !target.verify_tls;
    config.connect_timeout = settings.connect_timeout;
    config.command_timeout = settings.command_timeout;
    if target.tls && target.verify_tls {
        return Client::connect_with_roots(&config, public_roots()).await;
    }
    Client::connect(&config).await
}

/// Only a trap (the menu does not exist on this model) is tolerated; anything else means the
/// connection is unusable.
fn optional(result: Result<Vec<Row>, ClientError>) -> Result<Vec<Row>, ClientError> {
    match result {
        Err(ClientError::Trap(_)) => Ok(Vec::new()),
        other => other,
    }
}

async fn poll_once(
    state: &mut PollState,
    target: &PollTarget,
    runtime: &Runtime,
    settings: &PollerSettings,
) -> Result<(), PollError> {
    if state.session.as_ref().is_none_or(|s| s.client.is_closed()) {
        let client = connect(target, settings).await?;
        tracing::info!(device_id = %target.device.0, host = %target.host, "Router connected.");
        // Counters of another session may predate a reboot: start rates afresh.
        state.counters.clear();
        state.session = Some(Session {
            client,
            logs: None,
            inventory_sent: false,
        });
    }
    let Some(session) = state.session.as_mut() else {
        return Err(PollError::Client(ClientError::Closed));
    };
    let client = session.client.clone();
    let (clock, resource, health, interfaces, ppp, leases) = tokio::join!(
        state.clock.refresh(&client),
        client.print("/system/resource/print", collect::RESOURCE_PROPS, &[]),
        client.print("/system/health/print", &[], &[]),
        client.print("/interface/print", collect::INTERFACE_PROPS, &[]),
        client.print("/ppp/active/print", &[".id"], &[]),
        client.print("/ip/dhcp-server/lease/print", &[".id"], &["status=bound"]),
    );
    clock?;
    let resource = resource?.into_iter().next().unwrap_or_default();
    let (health, interfaces) = (optional(health)?, interfaces?);
    let (ppp, leases) = (optional(ppp)?, optional(leases)?);
    let ts = Utc::now();
    let mut samples = collect::resource_samples(&resource, ts);
    samples.extend(collect::health_samples(&health, ts));
    samples.extend(collect::interface_samples(
        &interfaces,
        &mut state.counters,
        Instant::now(),
        ts,
    ));
    for (name, rows) in [
        ("ppp.active_sessions", &ppp),
        ("dhcp.leases_bound", &leases),
    ] {
        if let Ok(name) = centinela_model::MetricName::parse(name) {
            let value = rows.len() as f64;
            samples.push(centinela_model::Sample { ts, name, value });
        }
    }
    // A smaller uptime than last time: the router rebooted and restarted its log ids.
    let uptime = collect::uptime(&resource);
    if let (Some(now), Some(before)) = (uptime, state.last_uptime)
        && now < before
    {
        state.cursor.reset();
        state.counters.clear();
    }
    state.last_uptime = uptime.or(state.last_uptime);
    if !session.inventory_sent {
        let identity = optional(client.print("/system/identity/print", &["name"], &[]).await)?;
        let board = optional(client.print("/system/routerboard/print", &[], &[]).await)?;
        let inventory = collect::inventory(&resource, identity.first(), board.first());
        runtime
            .ingest(target.device, AgentMessage::Inventory { inventory })
            .await?;
        session.inventory_sent = true;
    }
    if session.logs.as_ref().is_none_or(|f| f.is_finished()) {
        let follow = Follow {
            device: target.device,
            runtime: runtime.clone(),
            cursor: state.cursor.clone(),
            clock: state.clock.clone(),
        };
        session.logs = Some(logs::follow(client.clone(), follow));
    }
    runtime
        .ingest(target.device, AgentMessage::Telemetry { samples })
        .await?;
    runtime
        .set_reachability(target.device, true, String::new())
        .await?;
    Ok(())
}

async fn persist_log_cursor(state: &mut PollState, target: &PollTarget, runtime: &Runtime) {
    let current = state.cursor.get();
    if current != state.persisted_log_id && logs::save_cursor(runtime, target.device, current).await
    {
        state.persisted_log_id = current;
    }
}

/// Used by the log follower: the request that streams new log entries.
pub(super) fn listen_request() -> Request {
    Request::new("/log/listen")
}
