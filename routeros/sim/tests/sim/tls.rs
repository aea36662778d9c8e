//! API-SSL: a self-signed certificate generated at start, accepted by the client's
//! `accept_invalid_certs`.

use centinela_routeros::client::{Client, ClientConfig};
use centinela_routeros_sim::{RouterVersion, SimConfig};

use crate::common::{Raw, config, sim};

#[tokio::test]
async fn tls_sessions_work_with_accept_invalid_certs() {
    let handle = sim(SimConfig {
        tls: true,
        ..config(RouterVersion::V7_16, "")
    })
    .await;
    let pem = handle.certificate_pem().expect("a certificate when tls");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let addr = handle.local_addr();
    let mut tls = ClientConfig::new(addr.ip().to_string(), addr.port(), "admin", "");
    tls.tls = true;
    tls.accept_invalid_certs = true;
    let client = Client::connect(&tls).await.expect("TLS login");
    let rows = client
        .print("/system/identity/print", &[], &[])
        .await
        .expect("identity over TLS");
    assert_eq!(rows[0].text("name").as_deref(), Some("MikroTik"));

    tls.accept_invalid_certs = false;
    assert!(
        Client::connect(&tls).await.is_err(),
        "an untrusted certificate is refused"
    );
    // Plain API bytes on the TLS port are not a valid handshake: the connection is dropped.
    let mut plain = Raw::connect(&handle).await;
    plain.send(&["/login", "=name=admin", "=password="]).await;
    plain.expect_closed().await;
}

#[tokio::test]
async fn plain_simulator_has_no_certificate() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    assert!(handle.certificate_pem().is_none());
}
