//! `centinela serve`: start-up in dependency order, then graceful shutdown on SIGINT/SIGTERM
//! within `engine.shutdown_timeout_s`: the broker stops reading from publishers first (nothing
//! more is acknowledged), HTTP stops, what was acknowledged is drained through the consumer,
//! device actors and the writer, alert changes are stored; exit 0 when everything accepted is
//! stored, otherwise an error naming what is not (exit 1).

use crate::config::Settings;
use crate::{Failure, admin, pki};
use anyhow::Context;
use centinela_actors::writer::WriterConfig;
use centinela_actors::{Runtime, RuntimeConfig, Telemetry};
use centinela_api::app::AppFiles;
use centinela_api::meta::DemoMode;
use centinela_api::{AgentSettings, ApiState, AuthConfig, AuthGuards, MqttEndpoint};
use centinela_ingest::agent_ws::{self, AgentWsState};
use centinela_ingest::mqtt::{self, MqttSettings};
use centinela_ingest::pki::MasterKey;
use centinela_ingest::routeros::{self as routeros_ingest, PollerSettings};
use centinela_ingest::sessions::DeviceSessions;
use centinela_storage::Store;
use centinela_storage::metrics::{self, Layout};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What `centinela demo` adds to a running engine (`serve` runs with the default: nothing).
#[derive(Default)]
pub struct Extras {
    /// Demo mode for `GET /api/meta` (with the accounts the login page shows).
    pub demo: Option<DemoMode>,
    /// Started once HTTP listens, stopped before the engine stops.
    pub sidecar: Option<Box<dyn Sidecar>>,
}

/// Something that runs beside the engine (the demo's simulated fleet).
pub trait Sidecar {
    /// Starts; HTTP listens on `http`.
    fn start(&mut self, http: SocketAddr);
    /// Stops what `start` started.
    fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + '_>>;
}

pub async fn run(settings: Settings) -> Result<(), Failure> {
    run_with(settings, Extras::default()).await
}

/// `serve` with `extras`.
pub async fn run_with(settings: Settings, mut extras: Extras) -> Result<(), Failure> {
    // Before anything announces itself ("http listening on …"): a SIGTERM sent as soon as the
    // engine says it is up must start a graceful shutdown, not meet the default disposition.
    let signals = ShutdownSignals::install();
    let jwt_secret = settings.jwt_secret()?.as_bytes().to_vec();
    let master_key = MasterKey::from_base64(settings.master_key()?).map_err(|e| {
        Failure::Config(format!(
            "configuration error: secrets.master_key (CENTINELA_SECRETS__MASTER_KEY): {e}"
        ))
    })?;
    settings.auth.validate()?;
    let (poll_interval, connect_timeout, command_timeout) = settings.routeros.durations()?;
    let poller_settings = PollerSettings {
        interval: poll_interval,
        jitter: settings.routeros.jitter.clamp(0.0, 0.5),
        connect_timeout,
        command_timeout,
        offline_after: settings.routeros.offline_after.max(1),
    };
    let master_key = Arc::new(master_key);
    let store = admin::connect(&settings).await?;
    if store.bypasses_rls().await.unwrap_or(false) {
        tracing::warn!(
            "The database role is a superuser or has BYPASSRLS: row-level security is not enforced; connect as an ordinary role."
        );
    }
    let Some(_engine_lock) = centinela_storage::hold_engine_lock(store.pool())
        .await
        .context("cannot take the engine lock")?
    else {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "a master key rotation is running on this database; start the engine when it is done"
        )));
    };
    maintain_metrics(&store, &settings).await?;
    settings.agents.validate()?;
    let ca = pki::load_or_create(&store, &master_key).await?;
    let command_key = pki::load_or_create_command_key(&store, &master_key).await?;
    let telemetry = Arc::new(Telemetry::new());
    let runtime = Runtime::start(store.clone(), telemetry, runtime_config(&settings))
        .await
        .context("cannot start the runtime")?;
    let auth_store = Store::connect(settings.database_url()?, 2)
        .await
        .context("cannot connect the broker's pool")?;
    let device_sessions = DeviceSessions::new(runtime.telemetry().clone());
    device_sessions.watch(
        runtime.clone(),
        Duration::from_millis(settings.agents.session_recheck_ms.clamp(100, 60_000)),
    );
    let broker = mqtt::start(
        mqtt_settings(&settings, device_sessions.clone()),
        &ca,
        runtime.clone(),
        auth_store,
    )
    .await
    .context("cannot start the MQTT broker")?;
    println!("mqtt listening on {}", settings.mqtt.listen);
    let api_store = Store::connect_api(
        settings.database_url()?,
        settings.database.api_max_connections.max(1),
        Duration::from_millis(settings.database.api_statement_timeout_ms.max(1)),
    )
    .await
    .context("cannot connect the API's pool")?;
    let auth = auth_config(&settings, jwt_secret);
    let api_state = ApiState {
        runtime: runtime.clone(),
        store: api_store,
        guards: AuthGuards::new(&auth),
        auth,
        signer: Arc::new(pki::Signer(ca)),
        mqtt: MqttEndpoint {
            host: settings.mqtt.public_host.clone(),
            port: settings.mqtt.listen.port(),
        },
        broker_up: broker.up.clone(),
        sealer: Arc::new(pki::Sealer(master_key.clone())),
        command_signer: command_key,
        agents: AgentSettings {
            telemetry_s: settings.agents.telemetry_s,
            heartbeat_s: settings.agents.heartbeat_s,
            inventory_s: settings.agents.inventory_s,
            command_ttl: Duration::from_secs(u64::from(settings.agents.command_ttl_s)),
        },
    };
    let sessions = agent_ws::Sessions::default();
    runtime.add_command_sink(Arc::new(sessions.clone()));
    let fleet = routeros_ingest::start(runtime.clone(), master_key.clone(), poller_settings);
    let ws_state = AgentWsState {
        runtime: runtime.clone(),
        max_payload_bytes: settings.mqtt.max_payload_bytes,
        sessions,
        device_sessions,
        idle_timeout: Duration::from_secs(u64::from(settings.agents.ws_idle_timeout_s)),
        max_sessions_per_device: settings.agents.ws_max_sessions_per_device.max(1),
    };
    let app_files = AppFiles::embedded();
    if !app_files.is_built() {
        tracing::warn!(
            command = centinela_api::app::BUILD_COMMAND,
            "The NOC app was not built into this binary: / answers 503 naming the command that builds it."
        );
    }
    let demo = extras.demo.take().map(actix_web::web::Data::new);
    let server = actix_web::HttpServer::new(move || {
        let ws_state = ws_state.clone();
        let app_files = app_files.clone();
        let mut app = actix_web::App::new()
            .app_data(actix_web::web::Data::new(api_state.clone()))
            // `/ws/agent` before the API: the API's `/ws` scope answers every other `/ws/...`
            // path with its JSON 404, and actix matches in registration order.
            .configure(move |cfg| agent_ws::configure(cfg, ws_state))
            .configure(centinela_api::configure);
        if let Some(demo) = &demo {
            app = app.app_data(demo.clone());
        }
        // Last: the app's routes include the fallback for everything unmatched.
        app.configure(move |cfg| centinela_api::app::configure(cfg, app_files))
    })
    .disable_signals()
    .shutdown_timeout(5)
    .bind(settings.http.listen)
    .with_context(|| format!("cannot listen on {} (http.listen)", settings.http.listen))?;
    let addrs = server.addrs();
    for addr in &addrs {
        println!("http listening on {addr}");
    }
    let server = server.run();
    let handle = server.handle();
    let serving = actix_rt::spawn(server);
    if let (Some(sidecar), Some(addr)) = (extras.sidecar.as_mut(), addrs.first()) {
        sidecar.start(*addr);
    }
    signals.wait().await;
    if let Some(sidecar) = extras.sidecar.as_mut() {
        sidecar.stop().await;
    }
    let deadline = Duration::from_secs(settings.engine.shutdown_timeout_s.max(1));
    let http = async {
        handle.stop(true).await;
        let _ = serving.await;
    };
    shut_down(deadline, &broker, http, &fleet, &runtime).await
}

/// Stops taking data, then stores everything that was accepted, within `deadline`.
async fn shut_down(
    deadline: Duration,
    broker: &mqtt::BrokerHandle,
    http: impl std::future::Future<Output = ()>,
    fleet: &actix::Addr<routeros_ingest::RouterFleet>,
    runtime: &Runtime,
) -> Result<(), Failure> {
    tracing::info!(
        deadline_s = deadline.as_secs(),
        "Shutting down: publishers paused, storing what was acknowledged."
    );
    let work = async {
        // The broker stops reading first (nothing more is acknowledged) while HTTP stops; the
        // consumer then drains what the broker acknowledged into the runtime.
        tokio::join!(broker.stop_and_drain(deadline), http);
        // Pollers save their log positions and stop feeding the runtime.
        let _ = fleet.send(routeros_ingest::StopAll).await;
        runtime.shutdown().await;
    };
    let finished = tokio::time::timeout(deadline, work).await.is_ok();
    let unstored = runtime.telemetry().unstored();
    let unread = broker.unread_bytes();
    if unstored.is_empty() && unread == 0 && !broker.progress.busy() {
        tracing::info!("Stopped cleanly: everything acknowledged is stored.");
        return Ok(());
    }
    tracing::error!(
        points = unstored.points,
        log_lines = unstored.lines,
        alert_changes = unstored.alert_changes,
        unread_mqtt_bytes = unread,
        deadline_passed = !finished,
        "Shutdown incomplete: {} accepted points not stored.",
        unstored.points
    );
    Err(Failure::Runtime(anyhow::anyhow!(
        "shutdown incomplete after {} s: {} accepted points, {} log lines and {} alert changes were not stored; {} bytes of acknowledged MQTT messages unread",
        deadline.as_secs(),
        unstored.points,
        unstored.lines,
        unstored.alert_changes,
        unread
    )))
}

fn runtime_config(settings: &Settings) -> RuntimeConfig {
    RuntimeConfig {
        shards: settings.engine.shards,
        mailbox_capacity: settings.engine.mailbox_capacity.max(1),
        alert_queue: settings.engine.alert_queue.max(1),
        writer: WriterConfig {
            batch_rows: settings.storage.batch_rows.max(1),
            flush_interval: Duration::from_millis(settings.storage.flush_interval_ms.max(1)),
            copy_parallelism: settings.storage.copy_parallelism.clamp(1, 8),
            queue_capacity: settings.storage.writer_queue.max(1),
        },
        presence: centinela_actors::PresenceConfig {
            default_heartbeat: Duration::from_secs(u64::from(settings.agents.heartbeat_s.max(1))),
            multiple: settings.agents.offline_multiple.max(2),
            ..centinela_actors::PresenceConfig::default()
        },
        time_window: centinela_model::time::TimeWindow {
            max_age: chrono::Duration::days(i64::from(settings.storage.retention_days.max(1))),
            max_ahead: chrono::Duration::seconds(
                i64::try_from(settings.engine.max_clock_skew_s).unwrap_or(i64::MAX),
            ),
        },
        device_limits: centinela_actors::DeviceLimits {
            max_series: settings.engine.max_series_per_device.max(1),
            max_firing: settings.engine.max_firing_alerts_per_device.max(1),
        },
        sla: centinela_actors::sla::SlaConfig::default(),
        clock: centinela_actors::clock::engine_clock(),
    }
}

fn mqtt_settings(settings: &Settings, sessions: DeviceSessions) -> MqttSettings {
    let mut hosts = vec![settings.mqtt.public_host.clone()];
    hosts.extend(settings.mqtt.extra_hosts.iter().cloned());
    MqttSettings {
        listen: settings.mqtt.listen,
        listen_v5: settings.mqtt.listen_v5,
        plain_listen: settings.mqtt.plain_listen,
        max_payload_bytes: settings.mqtt.max_payload_bytes,
        tls_dir: settings.engine.data_dir.join("mqtt"),
        public_hosts: hosts,
        buffer_bytes: settings.mqtt.buffer_mib.clamp(2, 16 * 1024) << 20,
        handshake_timeout: Duration::from_millis(settings.mqtt.handshake_timeout_ms.max(1)),
        max_client_id_len: settings.mqtt.max_client_id_len.max(1),
        max_subscriptions: settings.mqtt.max_subscriptions.max(1),
        max_connections_per_device: settings.mqtt.max_connections_per_device.max(1),
        sessions,
    }
}

/// Retention and partitions now, then hourly in the background.
async fn maintain_metrics(store: &Store, settings: &Settings) -> Result<(), Failure> {
    let retention = chrono::Duration::days(i64::from(settings.storage.retention_days.max(1)));
    let ahead = settings.storage.partitions_ahead_days;
    let layout = metrics::layout(store.pool())
        .await
        .context("cannot inspect the metrics table")?;
    tracing::info!(
        ?layout,
        retention_days = settings.storage.retention_days,
        "Metrics storage."
    );
    if layout == Layout::Timescale {
        metrics::apply_timescale_retention(store.pool(), retention)
            .await
            .context("cannot set the retention policy")?;
        return Ok(());
    }
    partition_pass(store, ahead, retention)
        .await
        .context("cannot prepare metric partitions")?;
    let store = store.clone();
    actix_rt::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(error) = partition_pass(&store, ahead, retention).await {
                tracing::error!(%error, "Partition maintenance failed; will retry in an hour.");
            }
        }
    });
    Ok(())
}

async fn partition_pass(
    store: &Store,
    ahead: u32,
    retention: chrono::Duration,
) -> centinela_storage::Result<()> {
    let now = chrono::Utc::now();
    let created = metrics::ensure_partitions(store.pool(), now.date_naive(), ahead).await?;
    let dropped = metrics::drop_expired(store.pool(), now, retention).await?;
    if !created.is_empty() || !dropped.is_empty() {
        tracing::info!(?created, ?dropped, "Metric partitions maintained.");
    }
    Ok(())
}

/// SIGINT and SIGTERM, listened to from start-up on.
struct ShutdownSignals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignals {
    fn install() -> ShutdownSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .ok();
            ShutdownSignals { streams }
        }
        #[cfg(not(unix))]
        ShutdownSignals {}
    }

    /// Resolves at the first SIGINT or SIGTERM.
    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.streams {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The API's token and login settings from `[auth]`.
fn auth_config(settings: &Settings, jwt_secret: Vec<u8>) -> AuthConfig {
    let auth = &settings.auth;
    AuthConfig {
        access_ttl: Duration::from_secs(auth.access_ttl_s),
        login_failures_per_email: auth.login_failures_per_email as usize,
        login_failures_per_address: auth.login_failures_per_address as usize,
        login_failure_window: Duration::from_secs(auth.login_failure_window_s),
        password_hash_concurrency: auth.password_hash_concurrency,
        password_hash_wait: Duration::from_millis(auth.password_hash_wait_ms),
        noc_session_check: Duration::from_secs(auth.noc_session_check_s),
        ..AuthConfig::new(jwt_secret)
    }
}
