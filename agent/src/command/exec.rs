//! Running a verified script: body written to a private temporary file, the interpreter run
//! on it with a timeout, stdout and stderr captured with a cap.
//!
//! On unix the script gets its own process group and a timeout kills the whole group (via
//! `kill -KILL -- -PGID`, since `unsafe` is forbidden here), so children it started die too.
//! On Windows only the interpreter process is killed; grandchildren may survive.

use super::{Interpreter, VerifiedCommand};
use crate::message::now_rfc3339;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Cap of stdout and of stderr, each.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// A result must fit the transport's 64 KiB payload limit with room for the envelope.
const MAX_RESULT_BYTES: usize = 60 * 1024;
/// How long to wait for the output pipes to close after the process ended or was killed.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// The published result of a command.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CommandResult {
    pub command_id: String,
    /// `completed`, `timeout`, `refused` or `failed`.
    pub status: &'static str,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub truncated: bool,
    pub ts: String,
}

impl CommandResult {
    /// The JSON body; outputs are shortened further if needed to fit one message.
    pub fn to_body(&self) -> serde_json::Value {
        let mut result = self.clone();
        while serde_json::to_vec(&result).map_or(0, |v| v.len()) > MAX_RESULT_BYTES
            && !(result.stdout.is_empty() && result.stderr.is_empty())
        {
            let longer = if result.stdout.len() >= result.stderr.len() {
                &mut result.stdout
            } else {
                &mut result.stderr
            };
            let keep = floor_char_boundary(longer, longer.len() / 2);
            longer.truncate(keep);
            result.truncated = true;
        }
        serde_json::to_value(&result).unwrap_or_default()
    }
}

/// A refusal, published like any other result.
pub fn refused_result(command_id: &str, reason: &str) -> CommandResult {
    CommandResult {
        command_id: command_id.to_owned(),
        status: "refused",
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        duration_ms: 0,
        reason: Some(reason.to_owned()),
        truncated: false,
        ts: now_rfc3339(),
    }
}

fn floor_char_boundary(s: &str, mut index: usize) -> usize {
    while index > 0 && !s.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn program_for(interpreter: Interpreter, file: &Path) -> (&'static str, Vec<String>, &'static str) {
    let file = file.to_string_lossy().into_owned();
    match interpreter {
        Interpreter::Bash => ("bash", vec![file], "sh"),
        Interpreter::Sh => ("sh", vec![file], "sh"),
        Interpreter::Python if cfg!(windows) => ("python", vec![file], "py"),
        Interpreter::Python => ("python3", vec![file], "py"),
        Interpreter::PowerShell => (
            "powershell",
            [
                "-NoProfile",
                "-NonInteractive",
                "-ExecutionPolicy",
                "Bypass",
                "-File",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([file])
            .collect(),
            "ps1",
        ),
    }
}

/// Runs a verified command to completion or timeout.
pub async fn execute(command: &VerifiedCommand) -> CommandResult {
    let started = Instant::now();
    let timeout = Duration::from_secs(command.script.timeout_s);
    let outcome = match write_script(command) {
        Ok(dir) => {
            let outcome = run_script(command.interpreter, &dir, timeout).await;
            let _ = std::fs::remove_dir_all(&dir);
            outcome
        }
        Err(e) => Outcome::failed(format!("cannot write the script file: {e}")),
    };
    CommandResult {
        command_id: command.command_id.clone(),
        status: outcome.status,
        exit_code: outcome.exit_code,
        stdout: String::from_utf8_lossy(&outcome.stdout.0).into_owned(),
        stderr: String::from_utf8_lossy(&outcome.stderr.0).into_owned(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        reason: outcome.reason,
        truncated: outcome.stdout.1 || outcome.stderr.1,
        ts: now_rfc3339(),
    }
}

struct Outcome {
    status: &'static str,
    exit_code: Option<i32>,
    stdout: (Vec<u8>, bool),
    stderr: (Vec<u8>, bool),
    reason: Option<String>,
}

impl Outcome {
    fn failed(reason: String) -> Self {
        Self {
            status: "failed",
            exit_code: None,
            stdout: (Vec::new(), false),
            stderr: (Vec::new(), false),
            reason: Some(reason),
        }
    }
}

/// A private directory (0700) holding the script as `script.{ext}` (0700).
fn write_script(command: &VerifiedCommand) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("centinela-cmd-{}", uuid::Uuid::new_v4()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(&dir)?;
    let (_, _, ext) = program_for(command.interpreter, Path::new(""));
    let path = dir.join(format!("script.{ext}"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o700);
    }
    use std::io::Write;
    let mut file = options.open(&path)?;
    file.write_all(command.script.body.as_bytes())?;
    file.sync_all()?;
    Ok(dir)
}

async fn run_script(interpreter: Interpreter, dir: &Path, timeout: Duration) -> Outcome {
    let (_, _, ext) = program_for(interpreter, Path::new(""));
    let (program, args, _) = program_for(interpreter, &dir.join(format!("script.{ext}")));
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::failed(format!("cannot start {program}: {e}")),
    };
    let stdout = tokio::spawn(read_capped(child.stdout.take()));
    let stderr = tokio::spawn(read_capped(child.stderr.take()));
    let (status, exit_code, reason) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(exit)) => ("completed", exit.code(), None),
        Ok(Err(e)) => (
            "failed",
            None,
            Some(format!("waiting for the script failed: {e}")),
        ),
        Err(_) => {
            kill_tree(&mut child).await;
            let reason = format!("killed after {} s", timeout.as_secs());
            ("timeout", None, Some(reason))
        }
    };
    let collect = |handle: tokio::task::JoinHandle<(Vec<u8>, bool)>| async move {
        match tokio::time::timeout(PIPE_GRACE, handle).await {
            Ok(Ok(output)) => output,
            _ => (Vec::new(), false),
        }
    };
    Outcome {
        status,
        exit_code,
        stdout: collect(stdout).await,
        stderr: collect(stderr).await,
        reason,
    }
}

/// Kills the script's process group (unix) and the script itself.
async fn kill_tree(child: &mut tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
    let _ = child.kill().await;
}

/// Reads a pipe to its end, keeping at most [`MAX_OUTPUT_BYTES`] (the rest is drained so the
/// writer never blocks on a full pipe).
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>) -> (Vec<u8>, bool) {
    let Some(mut pipe) = pipe else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT_BYTES.saturating_sub(kept.len());
                if n > room {
                    truncated = true;
                }
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    (kept, truncated)
}
