//! API-SSL with a self-signed certificate (what routers ship), generated with rcgen.

use std::sync::Arc;

use centinela_routeros::client::{Client, ClientError};
use centinela_routeros::codec::{Reply, Request};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::peer::{self, Conn, tag_of};

struct TlsPeer {
    addr: std::net::SocketAddr,
    certificate: CertificateDer<'static>,
    handle: JoinHandle<()>,
}

/// A TLS peer for one connection; `serve` says whether a successful handshake is expected.
async fn tls_peer(serve: bool) -> TlsPeer {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("self-signed certificate");
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        let accepted = acceptor.accept(socket).await;
        if !serve {
            assert!(accepted.is_err(), "the client must refuse the certificate");
            return;
        }
        let mut conn = Conn::new(Box::new(accepted.expect("handshake")));
        conn.accept_login().await;
        let request = conn.expect("/system/identity/print").await;
        conn.send(
            Reply::re()
                .with_tag(tag_of(&request))
                .attr("name", "tls-router"),
        )
        .await;
        conn.send(Reply::done().with_tag(tag_of(&request))).await;
        conn.wait_eof().await;
    });
    TlsPeer {
        addr,
        certificate,
        handle,
    }
}

async fn identity(client: &Client) -> String {
    let rows = client
        .run(Request::new("/system/identity/print"))
        .await
        .expect("rows");
    rows[0].text("name").unwrap_or_default().into_owned()
}

#[tokio::test]
async fn self_signed_certificate_accepted_when_allowed() {
    let peer = tls_peer(true).await;
    let mut config = peer::config(peer.addr);
    config.tls = true;
    config.accept_invalid_certs = true;
    let client = Client::connect(&config).await.expect("TLS session");
    assert_eq!(identity(&client).await, "tls-router");
    client.close().await;
    peer::finish(peer.handle).await;
}

#[tokio::test]
async fn self_signed_certificate_refused_by_default() {
    let peer = tls_peer(false).await;
    let mut config = peer::config(peer.addr);
    config.tls = true;
    let error = Client::connect(&config).await.expect_err("refused");
    assert!(matches!(error, ClientError::Tls(_)), "{error:?}");
    assert!(error.to_string().contains("certificate"), "{error}");
    peer::finish(peer.handle).await;
}

#[tokio::test]
async fn certificate_trusted_through_roots() {
    let peer = tls_peer(true).await;
    let mut config = peer::config(peer.addr);
    config.tls = true;
    let mut roots = RootCertStore::empty();
    roots.add(peer.certificate.clone()).expect("trust anchor");
    let client = Client::connect_with_roots(&config, roots)
        .await
        .expect("verified TLS");
    assert_eq!(identity(&client).await, "tls-router");
    drop(client);
    peer::finish(peer.handle).await;
}
