//! The agent's configuration file: what enrollment learned and where the agent keeps its state.
//!
//! Enrollment writes it once (TOML, mode 0600 on unix because it holds the device token) and
//! `run` reads it. Every file the agent owns (key, certificates, queue, replay store) lives
//! beside it, so one `--config` path fully describes one agent instance — which is what lets
//! tests and several agents on one machine coexist.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why the configuration could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read the agent configuration {path}: {source} (run `centinela-agent enroll` first)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the agent configuration {path} is invalid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("cannot write the agent configuration {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode the agent configuration: {0}")]
    Encode(#[from] toml::ser::Error),
}

/// A secret string (the device token): serialised as is, never printed by `Debug`/`Display`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the MQTT broker listens (from enrollment or the certificate answer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttEndpoint {
    /// Host name or address of the engine's TLS MQTT listener.
    pub host: String,
    /// Its port (8883 by default on the engine).
    pub port: u16,
}

/// Collection intervals in seconds, as the engine assigned them at enrollment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intervals {
    /// Seconds between telemetry samples.
    pub telemetry_s: u64,
    /// Seconds between heartbeats.
    pub heartbeat_s: u64,
    /// Seconds between inventory reports (also sent once at start).
    pub inventory_s: u64,
}

impl Default for Intervals {
    fn default() -> Self {
        Self {
            telemetry_s: 30,
            heartbeat_s: 30,
            inventory_s: 86_400,
        }
    }
}

/// File names of the agent's state; relative names are resolved beside the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePaths {
    /// The device's private key (PEM, PKCS#8, mode 0600). Never leaves the machine.
    pub key: PathBuf,
    /// The device certificate signed by the engine's CA (PEM).
    pub certificate: PathBuf,
    /// The engine's CA certificate: the only authority trusted for the MQTT listener (PEM).
    pub ca_certificate: PathBuf,
    /// Command ids already seen, with their expiry, so a restart cannot reopen a replay.
    pub replay_store: PathBuf,
    /// The store-and-forward queue directory (overridable with `run --queue-dir`).
    pub queue_dir: PathBuf,
}

impl Default for FilePaths {
    fn default() -> Self {
        Self {
            key: PathBuf::from("agent.key"),
            certificate: PathBuf::from("agent.crt"),
            ca_certificate: PathBuf::from("ca.crt"),
            replay_store: PathBuf::from("seen-commands.json"),
            queue_dir: PathBuf::from("queue"),
        }
    }
}

/// The whole configuration file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Base URL of the engine's HTTP API (enrollment and certificate renewal).
    pub server_url: String,
    /// The device id (UUID) assigned at enrollment.
    pub device_id: String,
    /// The device key: the id as 32 lowercase hex digits; MQTT client id and topic prefix.
    pub device_key: String,
    /// The device token: MQTT password and WebSocket bearer token.
    pub device_token: Secret,
    /// URL of the WebSocket transport (`ws://` or `wss://`).
    pub ws_url: String,
    /// Base64 of the raw 32-byte Ed25519 key that signs remote commands.
    pub command_public_key: String,
    /// The MQTT listener.
    pub mqtt: MqttEndpoint,
    /// Collection intervals.
    #[serde(default)]
    pub intervals: Intervals,
    /// The agent's state files.
    #[serde(default)]
    pub files: FilePaths,
}

impl AgentConfig {
    /// Reads and parses the configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Writes the configuration (creating its directory), readable by the owner only on unix.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self)?;
        write_private(path, text.as_bytes()).map_err(|source| ConfigError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// Resolves one of the state file names against the configuration's directory.
    pub fn resolve(config_path: &Path, file: &Path) -> PathBuf {
        if file.is_absolute() {
            file.to_owned()
        } else {
            config_dir(config_path).join(file)
        }
    }
}

/// The directory holding the configuration file (and the agent's state).
pub fn config_dir(config_path: &Path) -> PathBuf {
    match config_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Writes a file atomically (temporary file, fsync, rename) with owner-only permissions on unix.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = config_dir(path);
    std::fs::create_dir_all(&dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let tmp = dir.join(format!(".{file_name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// The default configuration path for this OS and user.
pub fn default_config_path() -> PathBuf {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        return PathBuf::from(base).join("Centinela").join("agent.toml");
    }
    if cfg!(target_os = "macos") && is_root() {
        return PathBuf::from("/Library/Application Support/Centinela/agent.toml");
    }
    if is_root() {
        return PathBuf::from("/etc/centinela/agent.toml");
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("centinela").join("agent.toml")
}

/// Whether the process runs as root. On Linux `/proc/self` belongs to the effective user;
/// elsewhere the `USER` variable is the best safe (no `libc`) signal.
fn is_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/proc/self") {
            return meta.uid() == 0;
        }
        std::env::var("USER").map(|u| u == "root").unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AgentConfig {
        AgentConfig {
            server_url: "http://127.0.0.1:8080".into(),
            device_id: "0b8e4c1e-4f4e-4e43-9d6a-1f2b3c4d5e6f".into(),
            device_key: "0b8e4c1e4f4e4e439d6a1f2b3c4d5e6f".into(),
            device_token: Secret::new("tok"),
            ws_url: "ws://127.0.0.1:8080/ws/agent".into(),
            command_public_key: "AAAA".into(),
            mqtt: MqttEndpoint {
                host: "localhost".into(),
                port: 8883,
            },
            intervals: Intervals::default(),
            files: FilePaths::default(),
        }
    }

    #[test]
    fn round_trips_and_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("agent.toml");
        sample().save(&path).expect("save");
        assert_eq!(AgentConfig::load(&path).expect("load"), sample());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let key = AgentConfig::resolve(&path, Path::new("agent.key"));
        assert_eq!(key, dir.path().join("sub").join("agent.key"));
    }

    #[test]
    fn shipped_example_parses() {
        let example: AgentConfig =
            toml::from_str(include_str!("../agent.example.toml")).expect("example config");
        assert_eq!(example.mqtt.port, 8883);
        assert_eq!(example.files, FilePaths::default());
    }

    #[test]
    fn token_never_prints() {
        assert!(!format!("{:?}", sample()).contains("tok\""));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("agent.toml");
        let mut text = toml::to_string(&sample()).expect("encode");
        text.insert_str(0, "bogus = 1\n");
        std::fs::write(&path, text).expect("write");
        assert!(matches!(
            AgentConfig::load(&path),
            Err(ConfigError::Parse { .. })
        ));
    }
}
