//! Configuration: a TOML file (`--config`, default `centinela.toml` if present) overridden by
//! environment variables `CENTINELA_<SECTION>__<KEY>` (and plain `DATABASE_URL`). Every field is
//! documented in `centinela.example.toml`; a bad or missing setting is a one-line error naming
//! the key, and the process exits with code 2.

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A secret value that never prints.
#[derive(Clone, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

/// The whole configuration.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub mqtt: MqttSettings,
    pub auth: AuthSettings,
    pub secrets: SecretSettings,
    pub storage: StorageSettings,
    pub engine: EngineSettings,
    pub routeros: RouterOsSettings,
    pub agents: AgentSettings,
    pub demo: DemoSettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// PostgreSQL URL (`DATABASE_URL` is also read). Required.
    pub url: Option<Secret>,
    /// Pool size of the engine.
    pub max_connections: u32,
    /// Pool size of the REST and NOC API, apart from the engine's own work (ingest, alerts,
    /// writer), so that neither waits for the other.
    pub api_max_connections: u32,
    /// Longest a single API statement may run, in milliseconds (PostgreSQL
    /// `statement_timeout` on the API's connections); over → 503 for that request.
    pub api_statement_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            max_connections: 16,
            api_max_connections: 8,
            api_statement_timeout_ms: 5_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// REST + WebSocket listener. Port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSettings {
    /// MQTT 3.1.1 over TLS with client certificates. rumqttd cannot bind port 0.
    pub listen: SocketAddr,
    /// MQTT 5 over TLS with client certificates (its own port); unset = disabled.
    pub listen_v5: Option<SocketAddr>,
    /// Plaintext MQTT 3.1.1 for trusted networks only; unset = disabled.
    pub plain_listen: Option<SocketAddr>,
    /// Largest accepted payload in bytes.
    pub max_payload_bytes: usize,
    /// Host name agents are told to connect to.
    pub public_host: String,
    /// Extra names/addresses for the broker's server certificate.
    pub extra_hosts: Vec<String>,
    /// MiB the broker's log holds per topic filter (2 to 16384). When the engine's unread
    /// backlog reaches half of it, the broker stops reading from publishers until the engine
    /// catches up: bursts are slowed, never dropped.
    pub buffer_mib: usize,
    /// Milliseconds a connection has for its TLS handshake; each runs in its own task, so a
    /// silent socket holds only itself (`centinela_mqtt_refused{reason="handshake_timeout"}`).
    pub handshake_timeout_ms: u64,
    /// Longest MQTT client id accepted; ids are `[A-Za-z0-9_.:-]` (or empty).
    pub max_client_id_len: usize,
    /// Subscription filters one connection may hold at once.
    pub max_subscriptions: usize,
    /// MQTT connections one device may hold at once.
    pub max_connections_per_device: usize,
}

impl Default for MqttSettings {
    fn default() -> Self {
        MqttSettings {
            listen: SocketAddr::from(([0, 0, 0, 0], 8883)),
            listen_v5: None,
            plain_listen: None,
            max_payload_bytes: 64 * 1024,
            public_host: "localhost".into(),
            extra_hosts: Vec::new(),
            buffer_mib: 64,
            handshake_timeout_ms: 10_000,
            max_client_id_len: 128,
            max_subscriptions: 8,
            max_connections_per_device: 2,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// HMAC secret for JWTs: at least 32 bytes, never the example's `change-me` placeholder
    /// (`head -c32 /dev/urandom | base64` makes one). Required.
    pub jwt_secret: Option<Secret>,
    /// Seconds an access token lives (30 to 86400). A `/ws/noc` session must renew its token
    /// in place before then or it is closed with code 4001.
    pub access_ttl_s: u64,
    /// Failed logins per email within `login_failure_window_s` before that email gets 429.
    pub login_failures_per_email: u32,
    /// Failed logins per client address (the TCP peer) within `login_failure_window_s` before
    /// that address gets 429, whatever emails it tries.
    pub login_failures_per_address: u32,
    /// Seconds failed logins are remembered (both limits).
    pub login_failure_window_s: u64,
    /// Password hashes (argon2, ~20 MiB and tens of ms each) computed at once.
    pub password_hash_concurrency: usize,
    /// Milliseconds a login waits for a free hashing slot before it answers 503.
    pub password_hash_wait_ms: u64,
    /// Seconds between checks that a `/ws/noc` session's login session is still live (a
    /// deactivated or changed user's sockets close within this; logouts close them at once).
    pub noc_session_check_s: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: None,
            access_ttl_s: 15 * 60,
            login_failures_per_email: 5,
            login_failures_per_address: 20,
            login_failure_window_s: 5 * 60,
            password_hash_concurrency: 4,
            password_hash_wait_ms: 2_000,
            noc_session_check_s: 10,
        }
    }
}

impl AuthSettings {
    /// Checked values, or the error naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let checks = [
            ("access_ttl_s", self.access_ttl_s, 30, 86_400),
            (
                "login_failures_per_email",
                u64::from(self.login_failures_per_email),
                1,
                1_000,
            ),
            (
                "login_failures_per_address",
                u64::from(self.login_failures_per_address),
                1,
                100_000,
            ),
            (
                "login_failure_window_s",
                self.login_failure_window_s,
                1,
                86_400,
            ),
            (
                "password_hash_concurrency",
                self.password_hash_concurrency as u64,
                1,
                256,
            ),
            (
                "password_hash_wait_ms",
                self.password_hash_wait_ms,
                0,
                60_000,
            ),
        ];
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err(ConfigError(format!(
                    "auth.{key} must be between {min} and {max}"
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecretSettings {
    /// Base64 of 32 random bytes; encrypts the CA key and router credentials. Required.
    pub master_key: Option<Secret>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// Days of metric points kept.
    pub retention_days: u32,
    /// Points per COPY batch.
    pub batch_rows: usize,
    /// Longest wait before a partial batch is written, in milliseconds.
    pub flush_interval_ms: u64,
    /// Daily partitions created ahead (plain PostgreSQL only).
    pub partitions_ahead_days: u32,
    /// Point batches written at once, each on its own connection.
    pub copy_parallelism: usize,
    /// Messages the writer's input queue holds before ingest waits.
    pub writer_queue: usize,
    /// Metrics storage: `"auto"` (TimescaleDB when the extension exists in the database or can
    /// be created, native partitioning otherwise, with a warning when it is installed but
    /// unusable), `"required"` (refuse to start without it), `"off"` (native partitioning on
    /// any server). Decided when the database is first migrated; a value that contradicts an
    /// existing database's layout is refused (exit 2).
    pub timescaledb: centinela_storage::timescale::Mode,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            retention_days: 365,
            batch_rows: 5_000,
            flush_interval_ms: 200,
            partitions_ahead_days: 7,
            copy_parallelism: 2,
            writer_queue: 1_024,
            timescaledb: centinela_storage::timescale::Mode::Auto,
        }
    }
}

/// `centinela demo` only (`serve` ignores this section).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoSettings {
    /// Milliseconds between two telemetry messages of each simulated agent.
    pub telemetry_interval_ms: u64,
    /// Percent of simulated telemetry messages that carry a CPU breach (95–100 %), which opens
    /// a critical alert that clears with the device's next normal message.
    pub breach_pct: f64,
    /// Days of metrics history (5-minute resolution) loaded in the background after the seed.
    pub history_days: u32,
    /// Seconds after start at which the "unreachable" simulated router stops answering.
    pub router_outage_after_s: u64,
    /// Seconds that router stays unreachable.
    pub router_outage_s: u64,
}

impl Default for DemoSettings {
    fn default() -> Self {
        DemoSettings {
            telemetry_interval_ms: 10_000,
            breach_pct: 1.5,
            history_days: 30,
            router_outage_after_s: 60,
            router_outage_s: 120,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Where the engine keeps its files (broker TLS material).
    pub data_dir: PathBuf,
    /// Arbiters for device actors; 0 = one per core.
    pub shards: usize,
    /// Device mailbox capacity (messages).
    pub mailbox_capacity: usize,
    /// Alert changes one tenant actor lane holds before its device actors wait for room
    /// (counted in `centinela_alert_queue_full`).
    pub alert_queue: usize,
    /// Seconds SIGTERM/SIGINT may take: the broker stops reading from publishers, what was
    /// acknowledged is drained and stored, then the engine exits 0; if something accepted is
    /// still not stored at this deadline (e.g. PostgreSQL down) it exits 1 naming the count.
    pub shutdown_timeout_s: u64,
    /// Seconds a device timestamp may be ahead of the engine's clock; later ones are refused
    /// (`bad_timestamp`) and open the device's `device.clock_skew` alert. Timestamps older than
    /// `storage.retention_days` are refused the same way.
    pub max_clock_skew_s: u64,
    /// Distinct series one device may send (since the engine started); points of new series
    /// past it are refused (`centinela_series_refused`), existing series continue.
    pub max_series_per_device: usize,
    /// Alerts one device may have firing at once; past it one `device.alert_storm` alert opens
    /// and the device's further openings are suppressed until it is down to 80% of the cap.
    pub max_firing_alerts_per_device: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            data_dir: PathBuf::from("data"),
            shards: 0,
            mailbox_capacity: 64,
            alert_queue: 4_096,
            shutdown_timeout_s: 20,
            max_clock_skew_s: 600,
            max_series_per_device: 500,
            max_firing_alerts_per_device: 50,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterOsSettings {
    /// Seconds between polls of one router.
    pub poll_interval_s: f64,
    /// Random spread of each wait, as a fraction (0.1 = ±10 %).
    pub jitter: f64,
    /// Seconds to connect (TCP + TLS + login).
    pub connect_timeout_s: f64,
    /// Seconds one API command may take.
    pub command_timeout_s: f64,
    /// Consecutive failed attempts before a router is reported offline.
    pub offline_after: u32,
}

impl Default for RouterOsSettings {
    fn default() -> Self {
        RouterOsSettings {
            poll_interval_s: 30.0,
            jitter: 0.1,
            connect_timeout_s: 5.0,
            command_timeout_s: 10.0,
            offline_after: 3,
        }
    }
}

impl RouterOsSettings {
    /// Checked durations, or the error naming the key.
    pub fn durations(&self) -> Result<(Duration, Duration, Duration), ConfigError> {
        let secs = |key: &str, v: f64, min: f64| {
            if v.is_finite() && v >= min && v <= 86_400.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(ConfigError(format!(
                    "routeros.{key} must be between {min} and 86400 seconds"
                )))
            }
        };
        Ok((
            secs("poll_interval_s", self.poll_interval_s, 0.2)?,
            secs("connect_timeout_s", self.connect_timeout_s, 0.1)?,
            secs("command_timeout_s", self.command_timeout_s, 0.1)?,
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSettings {
    /// Seconds between telemetry messages (told to agents at enrollment).
    pub telemetry_s: u32,
    /// Seconds between heartbeats (told to agents at enrollment).
    pub heartbeat_s: u32,
    /// Seconds between inventories (told to agents at enrollment).
    pub inventory_s: u32,
    /// An agent silent for this many heartbeat intervals goes offline.
    pub offline_multiple: u32,
    /// Seconds a command stays valid after it is issued.
    pub command_ttl_s: u32,
    /// Seconds a `/ws/agent` socket may receive nothing (not even a ping) before it is closed.
    pub ws_idle_timeout_s: u32,
    /// `/ws/agent` sockets one device may hold at once.
    pub ws_max_sessions_per_device: usize,
    /// Milliseconds between re-checks of live MQTT and `/ws/agent` sessions against the
    /// database: a session whose device is gone or whose token was replaced is closed.
    pub session_recheck_ms: u64,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            telemetry_s: 30,
            heartbeat_s: 30,
            inventory_s: 86_400,
            offline_multiple: 3,
            command_ttl_s: 600,
            ws_idle_timeout_s: 90,
            ws_max_sessions_per_device: 2,
            session_recheck_ms: 2_000,
        }
    }
}

impl AgentSettings {
    /// Checked values, or the error naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let checks = [
            ("telemetry_s", self.telemetry_s, 1, 86_400),
            ("heartbeat_s", self.heartbeat_s, 1, 86_400),
            ("inventory_s", self.inventory_s, 60, 7 * 86_400),
            ("offline_multiple", self.offline_multiple, 2, 100),
            ("command_ttl_s", self.command_ttl_s, 10, 86_400),
            ("ws_idle_timeout_s", self.ws_idle_timeout_s, 1, 86_400),
        ];
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err(ConfigError(format!(
                    "agents.{key} must be between {min} and {max}"
                )));
            }
        }
        Ok(())
    }
}

/// A configuration problem, in one line naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Loads the file (if any) and the environment.
pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
    let mut builder = config::Config::builder();
    match file {
        Some(path) => {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path));
        }
        None => {
            builder = builder.add_source(config::File::with_name("centinela.toml").required(false))
        }
    }
    // Only CENTINELA_<SECTION>__<KEY> variables are configuration; others that merely start
    // with CENTINELA_ (test harness variables, say) are not ours to refuse.
    let vars: config::Map<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("CENTINELA_") && k["CENTINELA_".len()..].contains("__"))
        .collect();
    builder = builder.add_source(
        config::Environment::with_prefix("CENTINELA")
            .prefix_separator("_")
            .separator("__")
            .source(Some(vars)),
    );
    let raw = builder.build().map_err(|e| ConfigError(e.to_string()))?;
    let mut settings: Settings = raw
        .try_deserialize()
        .map_err(|e| ConfigError(e.to_string()))?;
    if settings.database.url.is_none()
        && let Ok(url) = std::env::var("DATABASE_URL")
    {
        settings.database.url = Some(Secret(url));
    }
    Ok(settings)
}

impl Settings {
    /// The database URL, or the error naming the key.
    pub fn database_url(&self) -> Result<&str, ConfigError> {
        match &self.database.url {
            Some(url) if !url.0.is_empty() => Ok(&url.0),
            _ => Err(ConfigError(
                "database.url is missing (set DATABASE_URL or CENTINELA_DATABASE__URL)".into(),
            )),
        }
    }

    /// The JWT secret, or the error naming the key: whoever knows it mints any token, so a
    /// short one or the example's placeholder is refused rather than started with.
    pub fn jwt_secret(&self) -> Result<&str, ConfigError> {
        const KEY: &str = "auth.jwt_secret (CENTINELA_AUTH__JWT_SECRET)";
        match &self.auth.jwt_secret {
            None => Err(ConfigError(format!(
                "{KEY} is missing; make one with: head -c32 /dev/urandom | base64"
            ))),
            Some(s) if s.0.len() < 32 => Err(ConfigError(format!(
                "{KEY} must be at least 32 bytes; make one with: head -c32 /dev/urandom | base64"
            ))),
            Some(s) if s.0.to_ascii_lowercase().contains("change-me") => Err(ConfigError(format!(
                "{KEY} is the example's placeholder; make one with: head -c32 /dev/urandom | base64"
            ))),
            Some(s) => Ok(&s.0),
        }
    }

    /// The master key text, refused when it is a placeholder, or the error naming the key.
    pub fn master_key(&self) -> Result<&str, ConfigError> {
        let text = self.master_key_text()?;
        check_master_key(text, "secrets.master_key (CENTINELA_SECRETS__MASTER_KEY)")?;
        Ok(text)
    }

    /// The master key text as configured, weak or not (rotating away from a weak key must
    /// work), or the error naming the key when it is missing.
    pub fn master_key_text(&self) -> Result<&str, ConfigError> {
        match &self.secrets.master_key {
            Some(s) if !s.0.is_empty() => Ok(&s.0),
            _ => Err(ConfigError("secrets.master_key (CENTINELA_SECRETS__MASTER_KEY) is missing: base64 of 32 random bytes (head -c32 /dev/urandom | base64)".into())),
        }
    }
}

/// The master key the example configuration shipped before it stopped carrying one: known to
/// everyone, so it protects nothing.
pub const EXAMPLE_MASTER_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Refuses a master key that is public (the example's) or plainly not random (one repeated
/// byte, e.g. all zeros). Its length and encoding are checked where it is parsed.
pub fn check_master_key(text: &str, what: &str) -> Result<(), ConfigError> {
    use base64::Engine;
    let text = text.trim();
    let weak = || {
        ConfigError(format!(
            "{what} is a placeholder, not a random key; make one with: head -c32 /dev/urandom | base64"
        ))
    };
    if text == EXAMPLE_MASTER_KEY {
        return Err(weak());
    }
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text)
        && bytes.windows(2).all(|pair| pair[0] == pair[1])
    {
        return Err(weak());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_example_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../centinela.example.toml");
        let text = std::fs::read_to_string(path).expect("example config");
        let settings: Settings = toml::from_str(&text).expect("example parses");
        assert_eq!(settings.http.listen.port(), 8080);
        // The secrets ship commented out: an engine never starts on published ones.
        assert!(settings.jwt_secret().is_err() && settings.master_key().is_err());
        settings
            .auth
            .validate()
            .expect("example auth settings are valid");
    }

    #[test]
    fn placeholder_and_weak_secrets_are_refused_naming_the_key() {
        let mut settings = Settings::default();
        for weak in ["short", "change-me-change-me-change-me-change-me"] {
            settings.auth.jwt_secret = Some(Secret(weak.into()));
            let error = settings.jwt_secret().unwrap_err().to_string();
            assert!(error.contains("auth.jwt_secret"), "{error}");
        }
        settings.auth.jwt_secret = Some(Secret("q6G3b1yQ0m8r9YxJ2c5v7w1z3k4n6p8s".into()));
        assert!(settings.jwt_secret().is_ok());
        let repeated = "//////////////////////////////////////////8=";
        for weak in [EXAMPLE_MASTER_KEY, repeated] {
            settings.secrets.master_key = Some(Secret(weak.into()));
            let error = settings.master_key().unwrap_err().to_string();
            assert!(error.contains("secrets.master_key"), "{error}");
        }
        settings.secrets.master_key = Some(Secret(
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
        ));
        assert!(settings.master_key().is_ok());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Settings>("[http]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n")
            .unwrap_err();
        assert!(err.to_string().contains("lisen"));
    }
}
