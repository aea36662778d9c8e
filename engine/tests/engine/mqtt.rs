//! A device over MQTT/TLS with its client certificate (rumqttc), and mosquitto_pub.

use crate::harness::Engine;
use reqwest::Client;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// What enrollment gives a device.
pub struct Credentials {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub dir: tempfile::TempDir,
}

/// Generates a key and CSR and has the engine sign it.
pub async fn enroll(http: &Client, engine: &Engine, device_key: &str, token: &str) -> Credentials {
    let (csr, key_pem) = centinela_ingest::pki::generate_device_csr(device_key).unwrap();
    let unauthorized = http
        .post(engine.url("/api/agents/certificate"))
        .bearer_auth("nope")
        .json(&json!({"csr": csr}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let res = http
        .post(engine.url("/api/agents/certificate"))
        .bearer_auth(token)
        .json(&json!({"csr": csr}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["mqtt"]["port"], engine.mqtt_port);
    let creds = Credentials {
        ca_pem: body["ca_certificate"].as_str().unwrap().to_owned(),
        cert_pem: body["certificate"].as_str().unwrap().to_owned(),
        key_pem,
        dir: tempfile::tempdir().unwrap(),
    };
    for (name, content) in [
        ("ca.pem", &creds.ca_pem),
        ("cert.pem", &creds.cert_pem),
        ("key.pem", &creds.key_pem),
    ] {
        std::fs::write(creds.dir.path().join(name), content).unwrap();
    }
    creds
}

pub struct Device {
    client: AsyncClient,
    connected: watch::Receiver<Option<bool>>,
    acked: Arc<AtomicU64>,
}

impl Device {
    /// Connects over TLS with the certificate; `Err` if the broker refuses.
    pub async fn connect(
        port: u16,
        creds: &Credentials,
        device_key: &str,
        token: &str,
    ) -> Result<Device, String> {
        let mut options = MqttOptions::new(
            format!("{device_key}-{}", uuid::Uuid::new_v4().simple()),
            "localhost",
            port,
        );
        options.set_credentials(device_key, token);
        options.set_keep_alive(Duration::from_secs(10));
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
            ca: creds.ca_pem.clone().into_bytes(),
            alpn: None,
            client_auth: Some((
                creds.cert_pem.clone().into_bytes(),
                creds.key_pem.clone().into_bytes(),
            )),
        }));
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let (tx, mut rx) = watch::channel(None);
        let acked = Arc::new(AtomicU64::new(0));
        let counter = acked.clone();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = tx.send(Some(true));
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let _ = tx.send(Some(false));
                        return;
                    }
                }
            }
        });
        let state = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| s.is_some()))
            .await
            .ok()
            .and_then(|r| r.ok().map(|s| *s));
        match state {
            Some(Some(true)) => Ok(Device {
                client,
                connected: rx,
                acked,
            }),
            _ => Err("connection refused".into()),
        }
    }

    pub async fn telemetry(&self, device_key: &str, body: Value) {
        self.raw(
            &format!("/tenants/{device_key}/telemetry"),
            body.to_string().into_bytes(),
        )
        .await;
    }

    pub async fn raw(&self, topic: &str, payload: Vec<u8>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }

    /// Publishes at QoS 1; `false` once the connection's event loop has ended.
    pub async fn try_raw(&self, topic: &str, payload: Vec<u8>) -> bool {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .is_ok()
    }

    /// QoS 1 publishes the broker has acknowledged so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Whether the broker closed the connection within `limit`.
    pub async fn wait_disconnected(mut self, limit: Duration) -> bool {
        matches!(
            tokio::time::timeout(limit, self.connected.wait_for(|s| *s == Some(false))).await,
            Ok(Ok(_))
        )
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
    }
}

/// Publishes once with the Mosquitto command-line client, exactly as the README shows.
pub fn mosquitto_pub(port: u16, creds: &Credentials, device_key: &str, token: &str, body: &str) {
    let dir: PathBuf = creds.dir.path().to_owned();
    let status = std::process::Command::new("mosquitto_pub")
        .args(["-h", "localhost", "-p", &port.to_string(), "--cafile"])
        .arg(dir.join("ca.pem"))
        .arg("--cert")
        .arg(dir.join("cert.pem"))
        .arg("--key")
        .arg(dir.join("key.pem"))
        .args([
            "-u",
            device_key,
            "-P",
            token,
            "-q",
            "1",
            "-t",
            &format!("/tenants/{device_key}/telemetry"),
            "-m",
            body,
        ])
        .status()
        .expect("mosquitto_pub is installed by scripts/test (mosquitto-clients)");
    assert!(status.success(), "mosquitto_pub failed: {status:?}");
}
