//! The `centinela-routeros-sim` binary: first stdout line, flags and scenario errors.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use centinela_routeros::client::{Client, ClientConfig};

const BIN: &str = env!("CARGO_BIN_EXE_centinela-routeros-sim");

/// The running binary; killed when dropped, so a failing assertion leaves no process behind.
pub(crate) struct Running(Child);

impl Running {
    /// Sends SIGTERM and waits for the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
        self.0.wait().expect("the binary exits")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns the binary and returns it with the port from its first stdout line.
pub(crate) fn spawn(args: &[&str]) -> (Running, u16) {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("reads the first line");
    let port = first
        .strip_prefix("listening on 127.0.0.1:")
        .and_then(|p| p.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    (running, port)
}

#[tokio::test]
async fn prints_the_bound_address_first_and_serves_it() {
    let (running, port) = spawn(&["--user", "ops:secret", "--version", "6.49"]);
    let client = Client::connect(&ClientConfig::new("127.0.0.1", port, "ops", "secret"))
        .await
        .expect("login");
    let rows = client
        .print("/system/resource/print", &["version"], &[])
        .await
        .expect("resource");
    assert_eq!(
        rows[0].text("version").as_deref(),
        Some("6.49.10 (long-term)")
    );
    let status = running.terminate();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status}");
    let after = client.print("/system/identity/print", &[], &[]).await;
    assert!(after.is_err(), "sessions are closed on shutdown");
}

fn run_failing(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_and_scenarios_fail_clearly_with_status_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[resource]]\nat = 0\ncpu_load = 140\n").expect("writes");
    let bad = bad.to_string_lossy().into_owned();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--scenario", &bad],
            "resource[0].cpu_load 140 is above 100",
        ),
        (
            &["--scenario", "/nonexistent.toml"],
            "cannot read scenario /nonexistent.toml",
        ),
        (&["--version", "5.0"], "unsupported RouterOS version"),
        (&["--user", "nocolon"], "expected NAME:PASSWORD"),
        (&["--listen", "nowhere"], "--listen"),
    ];
    for (args, expected) in cases {
        let (code, stderr) = run_failing(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let (_, stderr) = run_failing(&["--scenario", &bad]);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}
