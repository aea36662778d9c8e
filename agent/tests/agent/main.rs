//! Integration tests of the agent against a fake engine on loopback: enrollment writes a
//! usable configuration, and the WebSocket transport replays the queue in order (with the
//! original timestamps) once the engine answers, and runs a signed command.

mod fake_engine;

use base64::Engine;
use centinela_agent::config::AgentConfig;
use centinela_agent::enroll::EnrollError;
use centinela_agent::provision::{self, ProvisionError};
use centinela_agent::queue::DiskQueue;
use centinela_agent::runner::{self, RunOptions};
use centinela_agent::transport::TransportKind;
use ed25519_dalek::Signer;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn enrollment_writes_a_private_config_and_names_each_failure() {
    let engine = fake_engine::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agent.toml");
    let config = provision::enroll(&path, &engine.http_url, "good", "host-1")
        .await
        .expect("enroll");
    assert_eq!(config.device_key, fake_engine::DEVICE_KEY);
    assert_eq!(AgentConfig::load(&path).expect("load"), config);
    let cert = std::fs::read_to_string(dir.path().join("agent.crt")).expect("cert");
    assert!(centinela_agent::cert::not_after_pem(&cert).is_ok());
    #[cfg(unix)]
    for file in ["agent.toml", "agent.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(file))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    // A valid certificate far from expiry is not renewed.
    assert!(
        !provision::renew_if_needed(&path, &config)
            .await
            .expect("renew check")
    );

    let other = dir.path().join("other.toml");
    let unknown = provision::enroll(&other, &engine.http_url, "nope", "h").await;
    assert!(matches!(
        unknown,
        Err(ProvisionError::Enroll(EnrollError::UnknownSiteKey))
    ));
    let full = provision::enroll(&other, &engine.http_url, "full", "h").await;
    assert!(matches!(
        full,
        Err(ProvisionError::Enroll(EnrollError::PlanLimit { .. }))
    ));
    assert!(!other.exists(), "a failed enrollment writes nothing");
}

fn signed_command(body: &str) -> (String, Value) {
    let now = chrono::Utc::now();
    let id = uuid::Uuid::new_v4().to_string();
    let payload = json!({
        "command_id": id, "device_key": fake_engine::DEVICE_KEY,
        "script": {"id": uuid::Uuid::new_v4().to_string(), "name": "saludo", "interpreter": "sh",
                   "body": body, "timeout_s": 10},
        "approved_by": uuid::Uuid::new_v4().to_string(), "approved_at": now.to_rfc3339(),
        "issued_at": now.to_rfc3339(), "expires_at": (now + chrono::Duration::minutes(5)).to_rfc3339(),
    })
    .to_string();
    let signature = fake_engine::command_key().sign(payload.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(signature.to_bytes());
    (
        id,
        json!({"type": "command", "payload": payload, "signature": signature}),
    )
}

use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

#[allow(clippy::result_large_err)] // the signature is tungstenite's handshake callback
fn check_bearer(req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    assert_eq!(
        auth,
        Some(format!("Bearer {}", fake_engine::TOKEN).as_str())
    );
    Ok(resp)
}

#[cfg(unix)]
#[tokio::test]
async fn ws_transport_replays_in_order_and_runs_a_signed_command() {
    let engine = fake_engine::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agent.toml");
    provision::enroll(&path, &engine.http_url, "good", "host-1")
        .await
        .expect("enroll");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let options = RunOptions {
        interval: Some(1),
        transport: TransportKind::Ws,
        queue_dir: None,
        queue_max_bytes: 1024 * 1024,
        remote_exec: true,
    };
    let agent_path = path.clone();
    let agent = tokio::spawn(async move { runner::run(&agent_path, options, stop_rx).await });

    // The engine does not answer yet: the agent keeps measuring into its queue.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let connected_at = chrono::Utc::now();
    let (tcp, _) = engine.ws_listener.accept().await.expect("accept");
    let mut ws = tokio_tungstenite::accept_hdr_async(tcp, check_bearer)
        .await
        .expect("handshake");

    let mut ids = Vec::new();
    let mut kinds = Vec::new();
    let mut early_telemetry = false;
    let mut command_id = None;
    let mut result = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while result.is_none() && tokio::time::Instant::now() < deadline {
        let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_secs(5), ws.next()).await
        else {
            continue;
        };
        let frame: Value = serde_json::from_str(text.as_str()).expect("json frame");
        let id: u64 = frame["id"]
            .as_str()
            .and_then(|i| i.parse().ok())
            .expect("id");
        ids.push(id);
        let kind = frame["type"].as_str().unwrap_or("").to_owned();
        if kind == "telemetry" {
            let ts = chrono::DateTime::parse_from_rfc3339(frame["ts"].as_str().unwrap_or(""))
                .expect("ts");
            early_telemetry |= ts < connected_at;
            assert!(frame["metrics"]["cpu.usage_pct"].is_number());
        }
        if kind == "command_result" {
            result = Some(frame.clone());
        }
        kinds.push(kind);
        ws.send(Message::Text(
            json!({"type": "ack", "id": id.to_string()})
                .to_string()
                .into(),
        ))
        .await
        .expect("ack");
        if command_id.is_none() && ids.len() >= 5 {
            let (id, command) = signed_command("echo hola");
            command_id = Some(id);
            ws.send(Message::Text(command.to_string().into()))
                .await
                .expect("command");
        }
    }
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("events"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "inventory") && kinds.iter().any(|k| k == "heartbeat"));
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "ids in order without gaps: {ids:?}"
    );
    assert!(
        early_telemetry,
        "queued telemetry keeps its original timestamp"
    );
    let result = result.expect("a command result");
    assert_eq!(result["command_id"].as_str(), command_id.as_deref());
    assert_eq!(result["status"], "completed");
    assert_eq!(result["stdout"], "hola\n");
    assert_eq!(result["exit_code"], 0);

    tokio::time::sleep(Duration::from_millis(500)).await; // let the last acks land
    stop_tx.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(10), agent)
        .await
        .expect("agent stops")
        .expect("join")
        .expect("run");
    let queue = DiskQueue::open(&dir.path().join("queue"), 1024 * 1024).expect("queue");
    assert!(
        queue.head() >= ids.len() as u64,
        "acknowledged items left the queue"
    );
}
