//! The embedded MQTT broker (rumqttd) and its in-process consumer.
//!
//! rumqttd runs on its own threads (router plus one per listener). Agents connect over TLS with
//! a client certificate signed by the engine's CA whose subject O is their `device_key`; with
//! rumqttd's `validate-tenant-prefix` feature that confines each connection to topics under
//! `/tenants/{device_key}/`, so a device can never publish as another (the router refuses the
//! publish and drops the connection; the refusal shows in `centinela_mqtt_failed_publishes`).
//! The CONNECT must also carry username = device key and password = device token, checked by
//! [`auth`], so a deleted device or a revoked token is refused even with a valid certificate.
//! [`hooks`] then admits the connection (one device per connection, at most
//! `max_connections_per_device`), sees every PUBLISH and SUBSCRIBE before the router (only the
//! device's own consumed topics, no retained messages, at most `max_subscriptions` filters), and
//! closes it when the device is deleted or its token replaced ([`crate::sessions`]). TLS
//! handshakes run in their own tasks under `handshake_timeout`, so an idle socket holds only
//! itself.
//!
//! The engine consumes through a local link (no TCP hop), see [`consumer`]. rumqttd cannot bind
//! port 0, has no shutdown API and sends no CONNACK on a failed login (it closes the socket):
//! the engine works around each (test-picked ports, the engine owning the broker thread, the
//! auth handler counting refusals).

pub mod auth;
pub mod commands;
pub mod consumer;
pub mod drain;
pub mod hooks;

use crate::pki::CertificateAuthority;
use crate::sessions::DeviceSessions;
use centinela_actors::Runtime;
use centinela_storage::Store;
use rumqttd::{
    Broker, Config, ConnectionSettings, FlowControl, FlowGate, RouterConfig, ServerSettings,
    TlsConfig,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Broker settings.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// MQTT 3.1.1 TLS listener with client certificates.
    pub listen: SocketAddr,
    /// MQTT 5 TLS listener with client certificates (rumqttd serves v5 on its own port).
    pub listen_v5: Option<SocketAddr>,
    /// Plaintext MQTT 3.1.1 listener: only for trusted networks, bridges and load tests. Without
    /// a certificate there is no topic confinement, only the username/password check.
    pub plain_listen: Option<SocketAddr>,
    /// Largest payload the engine accepts (bigger ones are refused and counted).
    pub max_payload_bytes: usize,
    /// Where the broker's TLS files are written (the server key with mode 0600).
    pub tls_dir: PathBuf,
    /// Host names and addresses the server certificate names besides localhost/127.0.0.1.
    pub public_hosts: Vec<String>,
    /// Memory the broker holds per subscription filter. rumqttd acknowledges QoS 1 on receipt,
    /// so nothing acknowledged may be dropped: when the engine's unread backlog reaches half of
    /// this, the broker stops reading from every connection until the engine is back under a
    /// quarter (the patched rumqttd's flow control, `vendor/rumqttd/PATCHES.md`).
    pub buffer_bytes: usize,
    /// Time a connection has for its TLS handshake (each runs in its own task).
    pub handshake_timeout: Duration,
    /// Longest client id accepted (see [`auth`]).
    pub max_client_id_len: usize,
    /// Subscription filters one connection may hold.
    pub max_subscriptions: usize,
    /// Connections one device may hold at once.
    pub max_connections_per_device: usize,
    /// Live device sessions, shared with `/ws/agent` (caps, and closing on deletion).
    pub sessions: DeviceSessions,
}

/// Segments per filter in the broker's in-memory log: the oldest is dropped when a ninth is
/// needed, so the log holds between 7/8 and all of `buffer_bytes`.
const SEGMENTS: usize = 8;

/// Client id of the engine's consumer link, whose progress paces the publishers.
const CONSUMER: &str = "centinela-engine";

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot write TLS files in {path}: {source}")]
    Files {
        path: String,
        source: std::io::Error,
    },
    #[error("certificate error: {0}")]
    Pki(#[from] crate::pki::PkiError),
    #[error("broker link error: {0}")]
    Link(String),
    #[error("the MQTT listener {0} did not come up")]
    NotListening(SocketAddr),
}

fn write_file(path: &Path, contents: &str, private: bool) -> Result<(), BrokerError> {
    let err = |source| BrokerError::Files {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(path, contents).map_err(err)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

fn server(
    name: &str,
    listen: SocketAddr,
    tls: Option<TlsConfig>,
    settings: &MqttSettings,
    (auth_store, runtime, gate): (&Store, &Runtime, &FlowGate),
) -> ServerSettings {
    let mut connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        // Twice the engine's limit, so that moderately oversize payloads reach the engine and
        // are refused *and counted* there; beyond that rumqttd drops the connection itself.
        max_payload_size: settings.max_payload_bytes.saturating_mul(2),
        max_inflight_count: 256,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
        flow_gate: Some(gate.clone()),
        hooks: Some(Arc::new(hooks::EngineHooks {
            sessions: settings.sessions.clone(),
            telemetry: runtime.telemetry().clone(),
            max_connections: settings.max_connections_per_device,
            max_subscriptions: settings.max_subscriptions,
        })),
    };
    let check = auth::DeviceAuth::new(
        auth_store.clone(),
        runtime.telemetry().clone(),
        settings.max_client_id_len,
    );
    connections.set_auth_handler(move |client_id, user, pass| {
        let check = check.clone();
        async move { check.verify(&client_id, &user, &pass).await }
    });
    ServerSettings {
        name: name.to_owned(),
        listen,
        tls,
        next_connection_delay_ms: 1,
        handshake_timeout_ms: u64::try_from(settings.handshake_timeout.as_millis())
            .unwrap_or(u64::MAX),
        connections,
    }
}

/// A running broker.
#[derive(Debug, Clone)]
pub struct BrokerHandle {
    /// True once the TLS listener accepts connections.
    pub up: Arc<AtomicBool>,
    /// The broker's flow control: closed while publishers are paused for the engine.
    pub gate: FlowGate,
    /// How far the engine's consumer has read (for the drain at shutdown).
    pub progress: Arc<consumer::Progress>,
}

fn metric_settings() -> HashMap<rumqttd::MetricType, rumqttd::MetricSettings> {
    let every_second = || {
        serde_json::from_value::<rumqttd::MetricSettings>(serde_json::json!({"push_interval": 1}))
    };
    [rumqttd::MetricType::Meters, rumqttd::MetricType::Alerts]
        .into_iter()
        .filter_map(|kind| every_second().ok().map(|s| (kind, s)))
        .collect()
}

/// Starts rumqttd on its own thread, the local-link consumer on the current runtime, and waits
/// until the main listener accepts TCP connections.
pub async fn start(
    settings: MqttSettings,
    ca: &CertificateAuthority,
    runtime: Runtime,
    auth_store: Store,
) -> Result<BrokerHandle, BrokerError> {
    std::fs::create_dir_all(&settings.tls_dir).map_err(|source| BrokerError::Files {
        path: settings.tls_dir.display().to_string(),
        source,
    })?;
    let (cert, key) = ca.issue_server_certificate(&settings.public_hosts)?;
    let ca_path = settings.tls_dir.join("ca.pem");
    let cert_path = settings.tls_dir.join("server.pem");
    let key_path = settings.tls_dir.join("server.key");
    write_file(&ca_path, ca.cert_pem(), false)?;
    write_file(&cert_path, &cert, false)?;
    write_file(&key_path, &key, true)?;
    let gate = FlowGate::new();
    let tls = TlsConfig::Rustls {
        capath: Some(ca_path.display().to_string()),
        certpath: cert_path.display().to_string(),
        keypath: key_path.display().to_string(),
    };
    let mut v4 = HashMap::from([(
        "tls".to_owned(),
        server(
            "v4-tls",
            settings.listen,
            Some(tls.clone()),
            &settings,
            (&auth_store, &runtime, &gate),
        ),
    )]);
    if let Some(plain) = settings.plain_listen {
        tracing::warn!(%plain, "Plaintext MQTT listener enabled: no topic confinement; trusted networks only.");
        v4.insert(
            "plain".to_owned(),
            server(
                "v4-plain",
                plain,
                None,
                &settings,
                (&auth_store, &runtime, &gate),
            ),
        );
    }
    let v5 = settings.listen_v5.map(|listen| {
        HashMap::from([(
            "tls".to_owned(),
            server(
                "v5-tls",
                listen,
                Some(tls),
                &settings,
                (&auth_store, &runtime, &gate),
            ),
        )])
    });
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 100_000,
            max_outgoing_packet_count: 200,
            max_segment_size: (settings.buffer_bytes / SEGMENTS).max(1 << 20),
            max_segment_count: SEGMENTS,
            flow_control: Some(FlowControl {
                client_id: CONSUMER.to_owned(),
                max_unread_bytes: (settings.buffer_bytes / 2) as u64,
                gate: gate.clone(),
            }),
            ..RouterConfig::default()
        },
        v4: Some(v4),
        v5,
        // Without metrics settings rumqttd never pushes its meters and alerts (cursor jumps,
        // i.e. lost messages) to the links that count them.
        metrics: Some(metric_settings()),
        ..Config::default()
    };
    let mut broker = Broker::new(config);
    let (link_tx, link_rx) = broker
        .link(CONSUMER)
        .map_err(|e| BrokerError::Link(e.to_string()))?;
    let (commands_tx, commands_rx) = broker
        .link("centinela-commands")
        .map_err(|e| BrokerError::Link(e.to_string()))?;
    let meters = broker
        .meters()
        .map_err(|e| BrokerError::Link(e.to_string()))?;
    let alerts = broker
        .alerts()
        .map_err(|e| BrokerError::Link(e.to_string()))?;
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(error) = broker.start() {
                tracing::error!(%error, "The MQTT broker stopped.");
            }
        })
        .map_err(|source| BrokerError::Files {
            path: "thread".into(),
            source,
        })?;
    let progress = Arc::new(consumer::Progress::default());
    consumer::spawn(
        link_tx,
        link_rx,
        runtime.clone(),
        settings.max_payload_bytes,
        progress.clone(),
    )
    .map_err(|e| BrokerError::Link(e.to_string()))?;
    consumer::spawn_meters(meters, alerts, gate.clone(), runtime.telemetry().clone());
    let sink = commands::spawn(commands_tx, commands_rx).map_err(|source| BrokerError::Files {
        path: "thread".into(),
        source,
    })?;
    runtime.add_command_sink(std::sync::Arc::new(sink));
    wait_listening(settings.listen).await?;
    Ok(BrokerHandle {
        up: Arc::new(AtomicBool::new(true)),
        gate,
        progress,
    })
}

async fn wait_listening(addr: SocketAddr) -> Result<(), BrokerError> {
    let probe = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(probe).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(BrokerError::NotListening(addr))
}

/// Marks the broker as down (for `/readyz`), e.g. when its thread ends.
pub fn mark_down(handle: &BrokerHandle) {
    handle.up.store(false, Ordering::SeqCst);
}
