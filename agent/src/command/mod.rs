//! Remote commands: the signed envelope, the refusal rules, and the verdict.
//!
//! The agent runs a script only when every rule holds: remote execution enabled, a valid
//! Ed25519 signature (strict verification) by the key learned at enrollment over the payload
//! string's exact bytes, addressed to this device, not expired (60 s of skew allowed on
//! `issued_at`), approved, a known interpreter, a sane timeout, and never seen before (the id
//! is recorded durably before the script starts). Anything else yields a refusal with a reason
//! that is published as the command's result.

mod exec;
mod replay;
#[cfg(test)]
mod tests;

pub use exec::{CommandResult, MAX_OUTPUT_BYTES, execute, refused_result};
pub use replay::{ReplayError, ReplayStore};

use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;

/// Allowed clock skew for `issued_at` in the future.
pub const ISSUED_AT_SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// Longest timeout a command may ask for.
pub const MAX_TIMEOUT_S: u64 = 3600;

/// Why the command verifier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("the command public key is not base64 of 32 bytes")]
    BadPublicKey,
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// The message on the commands topic (or a WebSocket `command` frame).
#[derive(Debug, Deserialize)]
pub struct CommandEnvelope {
    pub payload: Option<String>,
    pub signature: Option<String>,
}

/// The script to run.
#[derive(Clone, Debug, Deserialize)]
pub struct Script {
    pub id: String,
    pub name: String,
    pub interpreter: String,
    pub body: String,
    pub timeout_s: u64,
}

/// The signed payload.
#[derive(Clone, Debug, Deserialize)]
pub struct CommandPayload {
    pub command_id: uuid::Uuid,
    pub device_key: String,
    pub script: Script,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The interpreters a script may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpreter {
    Bash,
    Sh,
    Python,
    PowerShell,
}

impl Interpreter {
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "bash" => Some(Self::Bash),
            "sh" => Some(Self::Sh),
            "python" => Some(Self::Python),
            "powershell" => Some(Self::PowerShell),
            _ => None,
        }
    }
}

/// A command that passed every rule.
#[derive(Clone, Debug)]
pub struct VerifiedCommand {
    pub command_id: String,
    pub interpreter: Interpreter,
    pub script: Script,
}

/// What to do with a command message.
#[derive(Debug)]
pub enum Verdict {
    Run(VerifiedCommand),
    /// Refused; `command_id` is known when the payload could be read at all.
    Refuse {
        command_id: Option<String>,
        reason: String,
    },
}

/// Applies the refusal rules for one device.
#[derive(Debug)]
pub struct Verifier {
    key: Option<VerifyingKey>,
    device_key: String,
    remote_exec: bool,
    replay: ReplayStore,
}

impl Verifier {
    /// `public_key_b64` is the enrollment's `command_public_key`.
    pub fn new(
        public_key_b64: &str,
        device_key: &str,
        remote_exec: bool,
        replay: ReplayStore,
    ) -> Result<Self, CommandError> {
        let key = parse_public_key(public_key_b64).ok_or(CommandError::BadPublicKey)?;
        Ok(Self {
            key: Some(key),
            device_key: device_key.to_owned(),
            remote_exec,
            replay,
        })
    }

    /// A verifier that refuses everything (used when the public key is unusable).
    pub fn refusing(device_key: &str, replay: ReplayStore) -> Self {
        Self {
            key: None,
            device_key: device_key.to_owned(),
            remote_exec: false,
            replay,
        }
    }

    /// Decides on one raw command message at time `now`.
    pub fn check(&mut self, raw: &[u8], now: DateTime<Utc>) -> Verdict {
        let envelope: CommandEnvelope = match serde_json::from_slice(raw) {
            Ok(envelope) => envelope,
            Err(e) => return refuse(None, format!("not a command message: {e}")),
        };
        let id_hint = envelope.payload.as_deref().and_then(command_id_hint);
        if !self.remote_exec {
            return refuse(id_hint, "remote execution is disabled on this agent".into());
        }
        let (Some(payload), Some(signature)) = (&envelope.payload, &envelope.signature) else {
            return refuse(id_hint, "signature or payload missing".into());
        };
        if !self.signature_is_valid(payload, signature) {
            return refuse(id_hint, "invalid signature".into());
        }
        let command: CommandPayload = match serde_json::from_str(payload) {
            Ok(command) => command,
            Err(e) => return refuse(id_hint, format!("malformed command payload: {e}")),
        };
        if self.replay.contains(&command.command_id.to_string()) {
            // Never answered: the first delivery's result (already queued) is the answer, and a
            // "refused" here could reach the engine first and overwrite the real outcome.
            return refuse(None, "command already received (replay refused)".into());
        }
        match self.rule_violation(&command, now) {
            Some(reason) => refuse(Some(command.command_id.to_string()), reason),
            None => self.accept(command, now),
        }
    }

    fn signature_is_valid(&self, payload: &str, signature_b64: &str) -> bool {
        let Some(key) = &self.key else {
            return false;
        };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim())
        else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        key.verify_strict(payload.as_bytes(), &signature).is_ok()
    }

    fn rule_violation(&self, command: &CommandPayload, now: DateTime<Utc>) -> Option<String> {
        let nonempty = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        if command.device_key != self.device_key {
            Some("command is addressed to another device".into())
        } else if command.expires_at <= now {
            Some("command expired".into())
        } else if command.issued_at > now + ISSUED_AT_SKEW {
            Some("command issued in the future (clock skew over 60 s)".into())
        } else if !nonempty(&command.approved_by) || !nonempty(&command.approved_at) {
            Some("command is not approved".into())
        } else if Interpreter::parse(&command.script.interpreter).is_none() {
            Some(format!(
                "unknown interpreter '{}'",
                command.script.interpreter
            ))
        } else if !(1..=MAX_TIMEOUT_S).contains(&command.script.timeout_s) {
            Some(format!("timeout_s must be 1..={MAX_TIMEOUT_S}"))
        } else {
            None
        }
    }

    fn accept(&mut self, command: CommandPayload, now: DateTime<Utc>) -> Verdict {
        let command_id = command.command_id.to_string();
        if let Err(e) = self.replay.record(&command_id, command.expires_at, now) {
            // Running without a durable record could allow a replay after a restart.
            return refuse(Some(command_id), format!("replay store unavailable: {e}"));
        }
        let Some(interpreter) = Interpreter::parse(&command.script.interpreter) else {
            return refuse(Some(command_id), "unknown interpreter".into());
        };
        Verdict::Run(VerifiedCommand {
            command_id,
            interpreter,
            script: command.script,
        })
    }
}

fn refuse(command_id: Option<String>, reason: String) -> Verdict {
    Verdict::Refuse { command_id, reason }
}

/// The `command_id` of a payload that may be unsigned or malformed, if it reads as a UUID.
fn command_id_hint(payload: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
    let id = value.get("command_id")?.as_str()?;
    uuid::Uuid::parse_str(id).ok().map(|u| u.to_string())
}

/// Decodes the base64 (standard) raw 32-byte Ed25519 public key.
pub fn parse_public_key(b64: &str) -> Option<VerifyingKey> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let bytes: [u8; 32] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}
