//! The engine's enrollment API as seen by an agent: `POST /api/agents/enroll` and
//! `POST /api/agents/certificate`.
//!
//! Each failure the operator can act on (unknown site key, plan limit, unreachable server) is
//! its own error variant with a sentence that says what to do, because `enroll` is run by a
//! person at a terminal.

use crate::config::{Intervals, MqttEndpoint};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Why enrollment or certificate issuance failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("the server at {url} is unreachable: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("the site key is unknown to the server (check the key shown on the site's page)")]
    UnknownSiteKey,
    #[error("the tenant's plan allows no more devices: {message}")]
    PlanLimit { message: String },
    #[error("the server refused the request as invalid: {message}")]
    BadInput { message: String },
    #[error("too many enrollment attempts; wait a minute and retry")]
    RateLimited,
    #[error("the server refused the device token (the device may have been deleted)")]
    Unauthorized,
    #[error("the server answered {status}: {message}")]
    Server { status: u16, message: String },
    #[error("the server's answer could not be understood: {0}")]
    BadAnswer(String),
}

/// What enrollment returns.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct EnrollResponse {
    pub device_id: String,
    pub device_key: String,
    pub device_token: String,
    pub mqtt: MqttEndpoint,
    pub ws_url: String,
    #[serde(default)]
    pub intervals: Intervals,
    pub command_public_key: String,
}

/// What certificate issuance returns.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CertificateResponse {
    pub certificate: String,
    pub ca_certificate: String,
    pub mqtt: Option<MqttEndpoint>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

/// A small client of the engine's agent endpoints.
#[derive(Clone, Debug)]
pub struct EnrollClient {
    http: reqwest::Client,
    server: String,
}

/// Refuses plain `http://` to anything but a loopback address unless explicitly allowed: the
/// command signing key and the CA come back in the answer, and whoever could change them could
/// run anything on this machine.
pub fn check_transport(server: &str, allow_insecure: bool) -> anyhow::Result<()> {
    let Some(rest) = server.strip_prefix("http://") else {
        return Ok(());
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .filter(|(h, port)| !h.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_insecure {
        return Ok(());
    }
    anyhow::bail!(
        "refusing to enroll over plain http:// with {host}: use https://, or --insecure-http on a network you trust"
    )
}

impl EnrollClient {
    /// A client for the engine at `server` (e.g. `http://127.0.0.1:8080`).
    pub fn new(server: &str) -> Result<Self, EnrollError> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("centinela-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| EnrollError::Unreachable {
                url: server.to_owned(),
                source,
            })?;
        Ok(Self {
            http,
            server: server.trim_end_matches('/').to_owned(),
        })
    }

    /// The server base URL, without a trailing slash.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// `POST /api/agents/enroll`.
    pub async fn enroll(
        &self,
        site_key: &str,
        hostname: &str,
        hardware: Option<serde_json::Value>,
    ) -> Result<EnrollResponse, EnrollError> {
        let mut body = serde_json::json!({"site_key": site_key, "hostname": hostname});
        if let Some(hardware) = hardware {
            body["hardware"] = hardware;
        }
        let url = format!("{}/api/agents/enroll", self.server);
        let request = self.http.post(&url).json(&body);
        self.send(&url, request).await
    }

    /// `POST /api/agents/certificate` with the device token and a PEM CSR.
    pub async fn certificate(
        &self,
        device_token: &str,
        csr_pem: &str,
    ) -> Result<CertificateResponse, EnrollError> {
        let url = format!("{}/api/agents/certificate", self.server);
        let request = self
            .http
            .post(&url)
            .bearer_auth(device_token)
            .json(&serde_json::json!({"csr": csr_pem}));
        self.send(&url, request).await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, EnrollError> {
        let response = request
            .send()
            .await
            .map_err(|source| EnrollError::Unreachable {
                url: url.to_owned(),
                source,
            })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| EnrollError::Unreachable {
                url: url.to_owned(),
                source,
            })?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes)
                .map_err(|e| EnrollError::BadAnswer(e.to_string()));
        }
        Err(error_for(status, &bytes))
    }
}

/// Maps an error answer to the variant the operator can act on.
fn error_for(status: u16, body: &[u8]) -> EnrollError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .map(|b| {
            if b.message.is_empty() {
                b.error.clone()
            } else {
                b.message.clone()
            }
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    let code = parsed.map(|b| b.error).unwrap_or_default();
    match (status, code.as_str()) {
        (404, _) => EnrollError::UnknownSiteKey,
        (402, _) | (_, "plan_limit") => EnrollError::PlanLimit { message },
        (400, _) => EnrollError::BadInput { message },
        (401, _) => EnrollError::Unauthorized,
        (429, _) => EnrollError::RateLimited,
        _ => EnrollError::Server { status, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_contract_errors() {
        assert!(matches!(
            error_for(404, br#"{"error":"not_found"}"#),
            EnrollError::UnknownSiteKey
        ));
        let plan = error_for(
            402,
            br#"{"error":"plan_limit","upsell":true,"message":"5 max"}"#,
        );
        assert!(matches!(plan, EnrollError::PlanLimit { ref message } if message == "5 max"));
        assert!(matches!(error_for(429, b""), EnrollError::RateLimited));
        assert!(matches!(
            error_for(500, b"boom"),
            EnrollError::Server { status: 500, ref message } if message == "boom"
        ));
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        assert!(check_transport("https://noc.example.com", false).is_ok());
        assert!(check_transport("http://127.0.0.1:8080", false).is_ok());
        assert!(check_transport("http://localhost:8080/", false).is_ok());
        assert!(check_transport("http://[::1]:8080", false).is_ok());
        assert!(check_transport("http://noc.example.com", false).is_err());
        assert!(check_transport("http://10.0.0.5:8080", false).is_err());
        assert!(check_transport("http://10.0.0.5:8080", true).is_ok());
    }

    #[tokio::test]
    async fn unreachable_server_is_reported() {
        // A port that was just free and is closed again: connection refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind")
            .port();
        let client = EnrollClient::new(&format!("http://127.0.0.1:{port}/")).expect("client");
        assert_eq!(client.server(), format!("http://127.0.0.1:{port}"));
        let err = client.enroll("k", "h", None).await.expect_err("no server");
        assert!(matches!(err, EnrollError::Unreachable { .. }), "{err}");
    }

    #[test]
    fn parses_enroll_answer() {
        let body = r#"{"device_id":"0b8e4c1e-4f4e-4e43-9d6a-1f2b3c4d5e6f",
            "device_key":"0b8e4c1e4f4e4e439d6a1f2b3c4d5e6f","device_token":"t",
            "mqtt":{"host":"localhost","port":8883},"ws_url":"ws://localhost:8080/ws/agent",
            "intervals":{"telemetry_s":10,"heartbeat_s":20,"inventory_s":3600},
            "command_public_key":"AAAA"}"#;
        let parsed: EnrollResponse = serde_json::from_str(body).expect("parse");
        assert_eq!(parsed.intervals.heartbeat_s, 20);
        assert_eq!(parsed.mqtt.port, 8883);
    }
}
