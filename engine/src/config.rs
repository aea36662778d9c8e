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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// PostgreSQL URL (`DATABASE_URL` is also read). Required.
    pub url: Option<Secret>,
    /// Pool size of the engine.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            max_connections: 16,
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
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// HMAC secret for JWTs, at least 32 characters. Required.
    pub jwt_secret: Option<Secret>,
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
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            telemetry_s: 30,
            heartbeat_s: 30,
            inventory_s: 86_400,
            offline_multiple: 3,
            command_ttl_s: 600,
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

    /// The JWT secret, or the error naming the key.
    pub fn jwt_secret(&self) -> Result<&str, ConfigError> {
        match &self.auth.jwt_secret {
            Some(s) if s.0.len() >= 32 => Ok(&s.0),
            Some(_) => Err(ConfigError(
                "auth.jwt_secret (CENTINELA_AUTH__JWT_SECRET) must be at least 32 characters"
                    .into(),
            )),
            None => Err(ConfigError(
                "auth.jwt_secret (CENTINELA_AUTH__JWT_SECRET) is missing".into(),
            )),
        }
    }

    /// The master key text, or the error naming the key.
    pub fn master_key(&self) -> Result<&str, ConfigError> {
        match &self.secrets.master_key {
            Some(s) if !s.0.is_empty() => Ok(&s.0),
            _ => Err(ConfigError("secrets.master_key (CENTINELA_SECRETS__MASTER_KEY) is missing: base64 of 32 random bytes".into())),
        }
    }
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
        assert!(settings.jwt_secret().is_ok() && settings.master_key().is_ok());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Settings>("[http]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n")
            .unwrap_err();
        assert!(err.to_string().contains("lisen"));
    }
}
