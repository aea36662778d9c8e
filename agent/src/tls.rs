//! TLS client configurations for the two transports.
//!
//! MQTT trusts ONLY the engine's own CA (from the certificate answer) and presents the device
//! certificate, because the broker confines each connection to its device's topics by the
//! certificate's subject. `wss://` trusts the engine CA plus the public web roots, since a
//! WebSocket endpoint usually sits behind a reverse proxy with a public certificate.
//! Configurations name the ring provider explicitly so they never depend on which provider
//! another crate in the process enabled.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use std::sync::Arc;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the {what} PEM is invalid: {source}")]
    Pem {
        what: &'static str,
        source: rustls::pki_types::pem::Error,
    },
    #[error("the {0} PEM holds no certificate")]
    Empty(&'static str),
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Installs ring as the process-wide rustls provider (for crates that use the default one,
/// such as reqwest). Harmless when one is installed already.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, TlsError> {
    Ok(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?,
    )
}

/// Parses every certificate of a PEM document.
pub fn certificates(
    what: &'static str,
    pem: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem { what, source })?;
    if certs.is_empty() {
        return Err(TlsError::Empty(what));
    }
    Ok(certs)
}

fn ca_roots(ca_pem: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates("CA certificate", ca_pem)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// MQTT over TLS: only the engine CA is trusted; the device certificate authenticates us.
pub fn mqtt_client_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<ClientConfig>, TlsError> {
    let chain = certificates("device certificate", cert_pem)?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|source| TlsError::Pem {
            what: "private key",
            source,
        })?;
    let config = builder()?
        .with_root_certificates(ca_roots(ca_pem)?)
        .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// `wss://`: the engine CA (when known) plus the public web PKI roots.
pub fn ws_client_config(ca_pem: Option<&str>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = match ca_pem {
        Some(pem) => ca_roots(pem)?,
        None => RootCertStore::empty(),
    };
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = builder()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    #[test]
    fn builds_both_configurations() {
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("sign")
            .pem();
        mqtt_client_config(&cert, &cert, &key.serialize_pem()).expect("mqtt tls");
        ws_client_config(Some(&cert)).expect("wss tls");
        ws_client_config(None).expect("wss public roots");
        assert!(matches!(
            mqtt_client_config("", &cert, &key.serialize_pem()),
            Err(TlsError::Empty(_))
        ));
    }
}
