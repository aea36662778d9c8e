//! A minimal stand-in for the engine's agent endpoints, on loopback port 0: enrollment and
//! certificate issuance over plain HTTP/1.1 (one request per connection), and a WebSocket
//! listener the test drives by hand.

use base64::Engine;
use ed25519_dalek::SigningKey;
use rcgen::{CertificateParams, CertificateSigningRequestParams, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const DEVICE_KEY: &str = "0b8e4c1e4f4e4e439d6a1f2b3c4d5e6f";
pub const TOKEN: &str = "device-token-1";

pub fn command_key() -> SigningKey {
    SigningKey::from_bytes(&[9u8; 32])
}

pub struct FakeEngine {
    pub http_url: String,
    pub ws_listener: TcpListener,
}

/// Starts the HTTP side; the WebSocket listener is bound but not accepting.
pub async fn start() -> FakeEngine {
    let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ws");
    let http_url = format!("http://{}", http.local_addr().expect("addr"));
    let ws_url = format!("ws://{}/ws/agent", ws_listener.local_addr().expect("addr"));
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_pem = ca_params.self_signed(&ca_key).expect("ca").pem();
    let issuer = std::sync::Arc::new(Issuer::new(ca_params, ca_key));
    tokio::spawn(async move {
        while let Ok((stream, _)) = http.accept().await {
            let (ws_url, ca_pem, issuer) = (ws_url.clone(), ca_pem.clone(), issuer.clone());
            tokio::spawn(async move {
                let _ = serve(stream, &ws_url, &ca_pem, &issuer).await;
            });
        }
    });
    FakeEngine {
        http_url,
        ws_listener,
    }
}

async fn serve(
    mut stream: TcpStream,
    ws_url: &str,
    ca_pem: &str,
    issuer: &Issuer<'static, KeyPair>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body: Value = serde_json::from_slice(&buf[header_end..]).unwrap_or(Value::Null);
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let (status, answer) = route(&path, &head, &body, ws_url, ca_pem, issuer);
    let text = answer.to_string();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn route(
    path: &str,
    head: &str,
    body: &Value,
    ws_url: &str,
    ca_pem: &str,
    issuer: &Issuer<'static, KeyPair>,
) -> (u16, Value) {
    match path {
        "/api/agents/enroll" => match body["site_key"].as_str() {
            Some("good") => (
                201,
                json!({
                    "device_id": "0b8e4c1e-4f4e-4e43-9d6a-1f2b3c4d5e6f",
                    "device_key": DEVICE_KEY,
                    "device_token": TOKEN,
                    "mqtt": {"host": "127.0.0.1", "port": 1},
                    "ws_url": ws_url,
                    "intervals": {"telemetry_s": 30, "heartbeat_s": 30, "inventory_s": 86400},
                    "command_public_key": base64::engine::general_purpose::STANDARD
                        .encode(command_key().verifying_key().to_bytes()),
                }),
            ),
            Some("full") => (
                402,
                json!({"error": "plan_limit", "upsell": true, "message": "basic plan: 5 devices"}),
            ),
            _ => (
                404,
                json!({"error": "not_found", "message": "unknown site key"}),
            ),
        },
        "/api/agents/certificate" => {
            if !head.contains(&format!("Bearer {TOKEN}")) {
                return (401, json!({"error": "unauthorized"}));
            }
            let csr = body["csr"].as_str().unwrap_or("");
            match CertificateSigningRequestParams::from_pem(csr).and_then(|p| p.signed_by(issuer)) {
                Ok(cert) => (
                    200,
                    json!({
                        "certificate": cert.pem(),
                        "ca_certificate": ca_pem,
                        "mqtt": {"host": "127.0.0.1", "port": 1},
                    }),
                ),
                Err(e) => (400, json!({"error": "bad_csr", "message": e.to_string()})),
            }
        }
        _ => (404, json!({"error": "not_found"})),
    }
}
