//! Verification rules and script execution.

use super::*;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;

const DEVICE: &str = "0123456789abcdef0123456789abcdef";

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn public_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(signing_key().verifying_key().to_bytes())
}

fn payload(overrides: serde_json::Value) -> serde_json::Value {
    let now = Utc::now();
    let mut p = json!({
        "command_id": uuid::Uuid::new_v4().to_string(),
        "device_key": DEVICE,
        "script": {"id": uuid::Uuid::new_v4().to_string(), "name": "hola", "interpreter": "sh",
                   "body": "echo hola", "timeout_s": 10},
        "approved_by": uuid::Uuid::new_v4().to_string(),
        "approved_at": now.to_rfc3339(),
        "issued_at": now.to_rfc3339(),
        "expires_at": (now + chrono::Duration::minutes(5)).to_rfc3339(),
    });
    if let (Some(map), Some(extra)) = (p.as_object_mut(), overrides.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                map.remove(k);
            } else {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    p
}

fn signed(p: &serde_json::Value) -> Vec<u8> {
    let text = p.to_string();
    let sig = signing_key().sign(text.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(sig.to_bytes());
    json!({"payload": text, "signature": sig})
        .to_string()
        .into_bytes()
}

fn verifier(dir: &std::path::Path, remote_exec: bool) -> Verifier {
    let store = ReplayStore::open(&dir.join("seen.json")).expect("store");
    Verifier::new(&public_b64(), DEVICE, remote_exec, store).expect("verifier")
}

fn reason_of(verdict: Verdict) -> (Option<String>, String) {
    match verdict {
        Verdict::Refuse { command_id, reason } => (command_id, reason),
        Verdict::Run(c) => panic!("expected a refusal, got {c:?}"),
    }
}

#[test]
fn valid_command_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = payload(json!({}));
    match verifier(dir.path(), true).check(&signed(&p), Utc::now()) {
        Verdict::Run(c) => {
            assert_eq!(Some(c.command_id.as_str()), p["command_id"].as_str());
            assert_eq!(c.interpreter, Interpreter::Sh);
        }
        other => panic!("expected Run, got {other:?}"),
    }
}

#[test]
fn bad_or_missing_signature_is_refused_with_the_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = verifier(dir.path(), true);
    let p = payload(json!({}));
    let mut tampered: serde_json::Value = serde_json::from_slice(&signed(&p)).expect("envelope");
    tampered["payload"] = json!(payload(json!({"command_id": p["command_id"]})).to_string());
    let (id, reason) = reason_of(v.check(tampered.to_string().as_bytes(), Utc::now()));
    assert_eq!(id.as_deref(), p["command_id"].as_str());
    assert_eq!(reason, "invalid signature");
    let unsigned = json!({"payload": p.to_string()}).to_string();
    let (id, reason) = reason_of(v.check(unsigned.as_bytes(), Utc::now()));
    assert!(id.is_some() && reason.contains("signature"));
    let (id, _) = reason_of(v.check(b"garbage", Utc::now()));
    assert!(id.is_none());
}

#[test]
fn each_rule_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = verifier(dir.path(), true);
    let now = Utc::now();
    let cases = [
        (
            json!({"device_key": "ffffffffffffffffffffffffffffffff"}),
            "another device",
        ),
        (
            json!({"expires_at": (now - chrono::Duration::seconds(1)).to_rfc3339()}),
            "expired",
        ),
        (
            json!({"issued_at": (now + chrono::Duration::seconds(120)).to_rfc3339()}),
            "future",
        ),
        (json!({"approved_by": null}), "not approved"),
        (json!({"approved_at": null}), "not approved"),
        (
            json!({"script": {"id": "x", "name": "n", "interpreter": "perl", "body": "", "timeout_s": 5}}),
            "unknown interpreter",
        ),
        (
            json!({"script": {"id": "x", "name": "n", "interpreter": "sh", "body": "", "timeout_s": 0}}),
            "timeout_s",
        ),
    ];
    for (overrides, expected) in cases {
        let (_, reason) = reason_of(v.check(&signed(&payload(overrides.clone())), now));
        assert!(reason.contains(expected), "{overrides}: {reason}");
    }
    // 30 s in the future is within the allowed skew.
    let p = payload(json!({"issued_at": (now + chrono::Duration::seconds(30)).to_rfc3339()}));
    assert!(matches!(v.check(&signed(&p), now), Verdict::Run(_)));
}

#[test]
fn replay_is_refused_even_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let message = signed(&payload(json!({})));
    assert!(matches!(
        verifier(dir.path(), true).check(&message, Utc::now()),
        Verdict::Run(_)
    ));
    let (id, reason) = reason_of(verifier(dir.path(), true).check(&message, Utc::now()));
    assert!(reason.contains("replay"), "{reason}");
    assert!(
        id.is_none(),
        "a replay is never answered (it could overwrite the real result)"
    );
}

#[test]
fn no_remote_exec_refuses_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = payload(json!({}));
    let (id, reason) = reason_of(verifier(dir.path(), false).check(&signed(&p), Utc::now()));
    assert_eq!(id.as_deref(), p["command_id"].as_str());
    assert!(reason.contains("disabled"));
    let store = ReplayStore::open(&dir.path().join("other.json")).expect("store");
    let (_, reason) = reason_of(Verifier::refusing(DEVICE, store).check(&signed(&p), Utc::now()));
    assert!(reason.contains("disabled"));
    assert!(parse_public_key("not base64!").is_none());
}

fn command(body: &str, timeout_s: u64) -> VerifiedCommand {
    VerifiedCommand {
        command_id: uuid::Uuid::new_v4().to_string(),
        interpreter: Interpreter::Sh,
        script: Script {
            id: "s".into(),
            name: "test".into(),
            interpreter: "sh".into(),
            body: body.into(),
            timeout_s,
        },
    }
}

#[cfg(unix)]
#[tokio::test]
async fn execution_captures_exit_code_and_outputs() {
    let result = execute(&command("echo salida; echo error >&2; exit 3", 10)).await;
    assert_eq!(result.status, "completed");
    assert_eq!(result.exit_code, Some(3));
    assert_eq!(result.stdout, "salida\n");
    assert_eq!(result.stderr, "error\n");
    assert!(!result.truncated);
}

#[cfg(unix)]
#[tokio::test]
async fn execution_caps_output_and_result_fits_a_message() {
    let result = execute(&command("head -c 200000 /dev/zero | tr '\\0' a", 20)).await;
    assert_eq!(result.status, "completed");
    assert_eq!(result.stdout.len(), MAX_OUTPUT_BYTES);
    assert!(result.truncated);
    let body = result.to_body();
    assert!(body.to_string().len() <= 64 * 1024);
    assert_eq!(body["truncated"], true);
}

#[cfg(unix)]
#[tokio::test]
async fn timeout_kills_the_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("survived");
    // A background grandchild that would write the marker after the timeout.
    let body = format!("(sleep 3; touch {}) & sleep 30", marker.display());
    let started = std::time::Instant::now();
    let result = execute(&command(&body, 1)).await;
    assert_eq!(result.status, "timeout");
    assert!(result.exit_code.is_none());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(!marker.exists(), "the grandchild survived the timeout");
}

#[tokio::test]
async fn missing_interpreter_fails_cleanly() {
    let mut c = command("print(1)", 5);
    c.interpreter = Interpreter::PowerShell;
    let result = execute(&c).await;
    if cfg!(unix) && result.status == "failed" {
        assert!(result.reason.is_some_and(|r| r.contains("cannot start")));
    }
    let refused = refused_result("id", "why").to_body();
    assert_eq!(refused["status"], "refused");
    assert_eq!(refused["reason"], "why");
    assert!(refused["exit_code"].is_null());
}
