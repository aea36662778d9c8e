//! The `centinela` process under test: started with its configuration in the environment (as
//! the integration tests do), its HTTP address read from stdout, its memory read from
//! `/proc/PID/status`, stopped with SIGTERM (the graceful path: the writer flushes).

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// JWT secret of the private engine (never a real one: the engine lives for one run).
pub const JWT_SECRET: &str = "bench-secret-bench-secret-bench-secret-01";
/// Master key of the private engine.
pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A free TCP port on loopback (rumqttd cannot bind port 0, so the caller picks one).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// How to start the engine.
#[derive(Debug, Clone)]
pub struct EngineSpec {
    pub binary: PathBuf,
    pub database_url: String,
    pub data_dir: PathBuf,
    /// Engine stdout and stderr are appended here.
    pub log: PathBuf,
    pub mqtt_port: u16,
    /// More `CENTINELA_*` settings, applied last (they override the defaults below).
    pub env: Vec<(String, String)>,
}

impl EngineSpec {
    /// The settings of the harness's engine: larger COPY batches, agents that stay online for
    /// the whole run, quiet logs.
    pub fn defaults(&self) -> Vec<(String, String)> {
        let pairs = [
            ("CENTINELA_HTTP__LISTEN", "127.0.0.1:0".to_owned()),
            (
                "CENTINELA_MQTT__LISTEN",
                format!("127.0.0.1:{}", self.mqtt_port),
            ),
            ("CENTINELA_AUTH__JWT_SECRET", JWT_SECRET.to_owned()),
            ("CENTINELA_SECRETS__MASTER_KEY", MASTER_KEY.to_owned()),
            (
                "CENTINELA_ENGINE__DATA_DIR",
                self.data_dir.display().to_string(),
            ),
            ("CENTINELA_STORAGE__BATCH_ROWS", "20000".to_owned()),
            ("CENTINELA_STORAGE__FLUSH_INTERVAL_MS", "100".to_owned()),
            ("CENTINELA_AGENTS__HEARTBEAT_S", "3600".to_owned()),
            ("CENTINELA_AGENTS__TELEMETRY_S", "1".to_owned()),
            ("CENTINELA_LOG", "warn,rumqttd=error".to_owned()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

/// A running engine.
#[derive(Debug)]
pub struct Engine {
    child: Child,
    pub http: SocketAddr,
    pub mqtt_port: u16,
}

impl Engine {
    /// Starts `centinela serve` and waits (up to `limit`) for `http listening on ADDR`.
    pub fn start(spec: &EngineSpec, limit: Duration) -> Result<Engine> {
        if !spec.binary.exists() {
            bail!(
                "{} not found: build it with `cargo build --release -p centinela-engine`",
                spec.binary.display()
            );
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(&spec.log)
            .with_context(|| format!("open {}", spec.log.display()))?;
        let mut child = Command::new(&spec.binary)
            .arg("serve")
            .env("DATABASE_URL", &spec.database_url)
            .envs(spec.defaults())
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(log.try_clone()?)
            .spawn()
            .with_context(|| format!("start {}", spec.binary.display()))?;
        let stdout = child.stdout.take().context("engine stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut log = log;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("http listening on ") {
                    let _ = tx.send(addr.parse::<SocketAddr>());
                }
                let _ = writeln!(log, "{line}");
            }
        });
        match rx.recv_timeout(limit) {
            Ok(Ok(http)) => Ok(Engine {
                child,
                http,
                mqtt_port: spec.mqtt_port,
            }),
            Ok(Err(e)) => {
                let _ = child.kill();
                bail!("the engine printed a bad address: {e}")
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the engine did not start within {limit:?}; see {}",
                    spec.log.display()
                )
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.child.id())
    }

    /// SIGTERM, then wait (killing after `limit`).
    pub fn stop(mut self, limit: Duration) -> Result<()> {
        self.terminate(limit)
    }

    /// Stops the engine gracefully and starts it again with the same settings (blocking).
    pub fn restart(&mut self, spec: &EngineSpec, limit: Duration) -> Result<()> {
        self.terminate(Duration::from_secs(60))?;
        *self = Engine::start(spec, limit)?;
        Ok(())
    }

    fn terminate(&mut self, limit: Duration) -> Result<()> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!("the engine did not stop within {limit:?} after SIGTERM; killed")
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field_kib(&status, "VmRSS:")
}

/// A `kB` field of `/proc/PID/status` (or `/proc/meminfo`).
pub fn status_field_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// `centinela admin create-user` (password on stdin).
pub fn create_superadmin(
    binary: &Path,
    database_url: &str,
    email: &str,
    password: &str,
) -> Result<()> {
    let mut child = Command::new(binary)
        .args(["admin", "create-user", "--email", email, "--name", "Bench"])
        .args(["--role", "superadmin"])
        .env("DATABASE_URL", database_url)
        .env("CENTINELA_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("centinela admin create-user")?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(password.as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        bail!("centinela admin create-user failed: {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_kib_fields() {
        let text = "Name:\tcentinela\nVmHWM:\t  812344 kB\nVmRSS:\t  512000 kB\n";
        assert_eq!(super::status_field_kib(text, "VmRSS:"), Some(512_000));
        assert_eq!(super::status_field_kib(text, "VmHWM:"), Some(812_344));
        assert_eq!(super::status_field_kib(text, "VmSwap:"), None);
        assert!(super::rss_kib(std::process::id()).unwrap() > 0);
    }
}
