//! Starts the real `centinela` binary on a fresh database and talks to it over loopback.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A free TCP port on loopback (rumqttd cannot bind port 0, so the test picks one).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// One engine process.
pub struct Engine {
    child: Child,
    pub http: SocketAddr,
    pub mqtt_port: u16,
    /// Everything the engine wrote to stderr so far (also echoed to the test's stderr).
    log: Arc<Mutex<String>>,
}

impl Engine {
    /// Starts `centinela serve` and waits for its HTTP address on stdout.
    pub fn start(database_url: &str, data_dir: PathBuf, mqtt_port: u16) -> Engine {
        Engine::start_with(database_url, data_dir, mqtt_port, &[])
    }

    /// Same, with extra `CENTINELA_*` settings.
    pub fn start_with(
        database_url: &str,
        data_dir: PathBuf,
        mqtt_port: u16,
        extra: &[(&str, &str)],
    ) -> Engine {
        Engine::start_command("serve", database_url, data_dir, mqtt_port, extra)
    }

    /// `centinela <command>` (`serve` or `demo`) with extra `CENTINELA_*` settings; its stdout
    /// is kept in the log too.
    pub fn start_command(
        command: &str,
        database_url: &str,
        data_dir: PathBuf,
        mqtt_port: u16,
        extra: &[(&str, &str)],
    ) -> Engine {
        let mut child = Command::new(env!("CARGO_BIN_EXE_centinela"))
            .arg(command)
            .env("DATABASE_URL", database_url)
            .env("CENTINELA_HTTP__LISTEN", "127.0.0.1:0")
            .env("CENTINELA_MQTT__LISTEN", format!("127.0.0.1:{mqtt_port}"))
            .env("CENTINELA_MQTT__MAX_PAYLOAD_BYTES", "4096")
            .env("CENTINELA_AUTH__JWT_SECRET", JWT_SECRET)
            .env("CENTINELA_SECRETS__MASTER_KEY", MASTER_KEY)
            .env("CENTINELA_ENGINE__DATA_DIR", &data_dir)
            .env("CENTINELA_STORAGE__FLUSH_INTERVAL_MS", "50")
            .env("CENTINELA_LOG", "info,rumqttd=error")
            .envs(extra.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start centinela");
        let log = echo_stderr(&mut child);
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let copy = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut log) = copy.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
                if let Some(addr) = line.strip_prefix("http listening on ") {
                    let _ = tx.send(addr.parse::<SocketAddr>().expect("address"));
                }
            }
        });
        let http = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("engine did not start in 60 s");
        Engine {
            child,
            http,
            mqtt_port,
            log,
        }
    }

    /// What the engine has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// SIGTERM and wait: the exit status, how long the shutdown took, and the whole log.
    pub fn stop_with_log(mut self) -> (std::process::ExitStatus, Duration, String) {
        let asked = std::time::Instant::now();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().expect("wait");
        let took = asked.elapsed();
        // The echo thread ends at EOF, right after the process.
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log();
        std::mem::forget(self);
        (status, took, log)
    }

    /// SIGTERM and wait: the graceful path.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().expect("wait");
        std::mem::forget(self);
        status
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Forwards the child's stderr to ours, keeping a copy.
fn echo_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("stderr");
    let copy = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if let Ok(mut log) = copy.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    log
}

/// `centinela admin create-user`, password on stdin.
pub fn create_user(
    database_url: &str,
    email: &str,
    role: &str,
    tenant: Option<&str>,
    password: &str,
) {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_centinela"));
    cmd.args([
        "admin",
        "create-user",
        "--email",
        email,
        "--name",
        "Test",
        "--role",
        role,
    ])
    .env("DATABASE_URL", database_url)
    .env("CENTINELA_LOG", "warn")
    .stdin(Stdio::piped())
    .stdout(Stdio::null());
    if let Some(t) = tenant {
        cmd.args(["--tenant", t]);
    }
    let mut child = cmd.spawn().expect("create-user");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(password.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success(), "create-user failed");
}

/// `centinela admin rotate-master-key` with the current key in the environment and the new one
/// on stdin; returns the exit code and stdout + stderr.
pub fn rotate_master_key(database_url: &str, current: &str, new: &str) -> (i32, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_centinela"))
        .args(["admin", "rotate-master-key"])
        .env("DATABASE_URL", database_url)
        .env("CENTINELA_SECRETS__MASTER_KEY", current)
        .env("CENTINELA_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rotate-master-key");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(new.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}
