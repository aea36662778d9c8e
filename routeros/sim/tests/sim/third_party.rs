//! Independent peers: the PyPI clients `librouteros` 4.2.2 and `routeros-api` 0.21.0 against
//! the simulator binary (plain and legacy login), driven by `tests/third_party.py`.
//!
//! The clients live in a venv at `<workspace>/target/pyclients`, created once and reused;
//! concurrent test processes serialise on a `flock`. If pip cannot reach PyPI the test fails
//! (it does not skip): the cross-check is the point of the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::binary::spawn;

const CLIENTS: [&str; 2] = ["librouteros==4.2.2", "routeros-api==0.21.0"];

/// The scenario the Python script asserts against.
const SCENARIO: &str = r#"
[[resource]]
at = 0
cpu_load = 28

[[interface]]
name = "ether1"

[[interface]]
name = "ether2"

[[interface]]
name = "wlan1"
type = "wlan"

[[log]]
at = -5
topics = "system,info"
message = "router rebooted"
"#;

fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// Creates (or reuses) the venv with both clients; returns its python.
fn python_with_clients() -> PathBuf {
    let target = workspace().join("target");
    std::fs::create_dir_all(&target).expect("target directory");
    let venv = target.join("pyclients");
    let script = format!(
        r#"set -e
V="$1"
if [ -x "$V/bin/python" ] && "$V/bin/python" -c "
import importlib.metadata as m
assert m.version('librouteros') == '4.2.2' and m.version('routeros-api') == '0.21.0'
" 2>/dev/null; then
  echo "third-party clients: reusing $V"
  exit 0
fi
echo "third-party clients: creating $V and installing {clients} with pip"
python3 -m venv "$V"
"$V/bin/pip" install --disable-pip-version-check --progress-bar off {clients}
"#,
        clients = CLIENTS.join(" ")
    );
    let status = Command::new("flock")
        .arg(target.join("pyclients.lock"))
        .args(["sh", "-c", &script, "sh"])
        .arg(&venv)
        .status()
        .expect("flock and sh run (util-linux flock is required)");
    assert!(
        status.success(),
        "could not install {} into {} with pip ({status}); is PyPI reachable? See the pip output above.",
        CLIENTS.join(" and "),
        venv.display()
    );
    venv.join("bin/python")
}

#[test]
fn librouteros_and_routeros_api_interoperate() {
    let python = python_with_clients();
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(&scenario, SCENARIO).expect("writes the scenario");
    let scenario = scenario.to_string_lossy().into_owned();
    let common = ["--user", "admin:secret", "--scenario", scenario.as_str()];
    let (_plain, plain_port) = spawn(&common);
    let legacy_args = [&common[..], &["--legacy-login"]].concat();
    let (_legacy, legacy_port) = spawn(&legacy_args);

    let output = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/third_party.py"))
        .args([
            "--plain-port",
            &plain_port.to_string(),
            "--legacy-port",
            &legacy_port.to_string(),
        ])
        .args(["--user", "admin", "--password", "secret"])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "third_party.py failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("all third-party checks passed"), "{stdout}");
}
