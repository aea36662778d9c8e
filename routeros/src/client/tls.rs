//! Opening the transport: TCP with a timeout, then TLS (API-SSL) if configured.
//!
//! Why rustls with an explicit ring provider: nothing here may depend on a process-wide default
//! provider that another crate of the binary did or did not install. Routers ship self-signed
//! certificates, so `accept_invalid_certs` installs a verifier that accepts any certificate
//! while still checking the handshake signatures — the channel is encrypted, not authenticated.

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{ClientConfig, ClientError};

/// The byte stream a session runs over: plain TCP or TLS over TCP.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// `host:port`, with brackets around an IPv6 literal, for messages.
pub(super) fn display_address(config: &ClientConfig) -> String {
    let host = config.host.trim_start_matches('[').trim_end_matches(']');
    if host.contains(':') {
        format!("[{host}]:{}", config.port)
    } else {
        format!("{host}:{}", config.port)
    }
}

fn connect_error(address: &str, cause: io::Error) -> ClientError {
    ClientError::Connect(io::Error::new(
        cause.kind(),
        format!("cannot connect to {address}: {cause}"),
    ))
}

/// Connects within `config.connect_timeout` and performs the TLS handshake if configured.
/// `roots` are the trust anchors used when `accept_invalid_certs` is off.
pub(super) async fn open(
    config: &ClientConfig,
    roots: Arc<RootCertStore>,
) -> Result<Box<dyn Io>, ClientError> {
    let address = display_address(config);
    let host = config.host.trim_start_matches('[').trim_end_matches(']');
    let connecting = TcpStream::connect((host, config.port));
    let tcp = tokio::time::timeout(config.connect_timeout, connecting)
        .await
        .map_err(|_| {
            let cause = io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {:?}", config.connect_timeout),
            );
            connect_error(&address, cause)
        })?
        .map_err(|cause| connect_error(&address, cause))?;
    // Commands are small and latency matters more than segment count.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%address, %error, "Could not disable Nagle's algorithm.");
    }
    if !config.tls {
        return Ok(Box::new(tcp));
    }
    let connector = connector(config.accept_invalid_certs, roots)?;
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| ClientError::Tls(format!("invalid server name {host:?}: {e}")))?;
    let handshake = connector.connect(name, tcp);
    let tls = tokio::time::timeout(config.connect_timeout, handshake)
        .await
        .map_err(|_| ClientError::Timeout("performing the TLS handshake"))?
        .map_err(|e| ClientError::Tls(format!("TLS handshake with {address} failed: {e}")))?;
    Ok(Box::new(tls))
}

fn connector(
    accept_invalid_certs: bool,
    roots: Arc<RootCertStore>,
) -> Result<TlsConnector, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let config = if accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
            .with_no_client_auth()
    } else {
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Accepts any server certificate (routers ship self-signed ones) but verifies that the
/// handshake was signed by the certificate's key, with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_for_messages() {
        let cases = [
            ("192.0.2.1", "192.0.2.1:8728"),
            ("router.example", "router.example:8728"),
            ("::1", "[::1]:8728"),
            ("[2001:db8::1]", "[2001:db8::1]:8728"),
        ];
        for (host, expected) in cases {
            let config = ClientConfig::new(host, 8728, "admin", "");
            assert_eq!(display_address(&config), expected);
        }
    }

    #[test]
    fn connectors_build_with_the_ring_provider() {
        let roots = Arc::new(RootCertStore::empty());
        assert!(connector(true, roots.clone()).is_ok());
        assert!(connector(false, roots).is_ok());
    }
}
