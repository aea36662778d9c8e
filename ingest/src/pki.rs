//! Device PKI: the engine's own certificate authority for the embedded MQTT broker.
//!
//! The broker (rumqttd with client-certificate verification and
//! `validate-tenant-prefix`) derives the tenant of a connection from the
//! Organization (O) of the client certificate's subject and confines the client
//! to topics under `/tenants/{O}/`. Security therefore rests on the signer, not
//! on the device: [`CertificateAuthority::sign_device_csr`] throws away whatever
//! subject, extensions or validity the CSR asks for and builds the certificate
//! from scratch with `CN = O = device_key` (32 lowercase hex characters, hence
//! alphanumeric as rumqttd requires), `clientAuth` only, not a CA. The only
//! thing taken from the CSR is its public key, after its self-signature has
//! been verified (proof of possession).
//!
//! Persistence: the CA certificate is public and stored in clear, while its
//! private key is sealed with AES-256-GCM under a [`MasterKey`] supplied by
//! configuration ([`StoredCa`]). The sealed format is
//! `0x01 (version) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//! Unsealing checks that the key really belongs to the stored certificate.
//!
//! All keys are ECDSA P-256 (rcgen's default). Certificates are back-dated by
//! one hour to tolerate clock skew between the engine and devices.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
    SerialNumber,
};
use std::fmt;
use time::{Duration, OffsetDateTime};

/// Version byte prefixed to every sealed blob.
const SEAL_VERSION: u8 = 0x01;
/// AES-GCM nonce length in bytes.
const NONCE_LEN: usize = 12;
/// AES-GCM tag length in bytes.
const TAG_LEN: usize = 16;
/// Organization written in the CA's own subject.
const CA_ORGANIZATION: &str = "Centinela";
/// CA lifetime in days (about ten years).
const CA_VALIDITY_DAYS: u32 = 3650;
/// Server certificate lifetime in days.
const SERVER_VALIDITY_DAYS: u32 = 365;
/// Common name of the MQTT listener's server certificate.
const SERVER_COMMON_NAME: &str = "centinela-mqtt";

/// Errors of the PKI module. Messages never contain secret material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The configured master key is unusable (not base64, or not 32 bytes).
    #[error("invalid master key: {0}")]
    InvalidMasterKey(String),
    /// Authenticated decryption failed.
    #[error("cannot decrypt: wrong master key or corrupted data")]
    Decrypt,
    /// The certificate signing request could not be parsed or its signature is invalid.
    #[error("invalid certificate signing request: {0}")]
    InvalidCsr(String),
    /// The device key is not 32 lowercase hexadecimal characters.
    #[error("invalid device key: expected 32 lowercase hexadecimal characters")]
    InvalidDeviceKey,
    /// The requested validity is zero or too far in the future.
    #[error("invalid certificate validity: {0} days")]
    InvalidValidity(u32),
    /// The stored CA is inconsistent (unparsable certificate or key not matching it).
    #[error("invalid stored CA: {0}")]
    InvalidCa(String),
    /// The system random number generator failed.
    #[error("random number generator failure: {0}")]
    Random(String),
    /// rcgen failed to build or sign a certificate.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
}

/// 32-byte master key from configuration (base64 of 32 bytes), used to seal the CA key.
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(**redacted**)")
    }
}

impl MasterKey {
    /// Decodes a master key from standard base64; it must decode to exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<MasterKey, PkiError> {
        let bytes = BASE64
            .decode(s.trim())
            .map_err(|_| PkiError::InvalidMasterKey("not valid base64".into()))?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            PkiError::InvalidMasterKey(format!("expected 32 bytes, got {}", bytes.len()))
        })?;
        Ok(MasterKey(key))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.0))
    }

    /// Encrypts with AES-256-GCM under a fresh random 96-bit nonce.
    /// Output: `0x01 || nonce (12) || ciphertext || tag (16)`.
    ///
    /// # Panics
    /// Only if the operating system's random generator fails or the plaintext
    /// exceeds the AES-GCM limit of 64 GiB; neither happens in practice.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Nonce::<Aes256Gcm>::generate();
        let ciphertext = self
            .cipher()
            .encrypt(&nonce, plaintext)
            .expect("AES-GCM plaintext below 64 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Reverses [`MasterKey::encrypt`]. Any failure (wrong key, tampering,
    /// truncation, unknown version) yields [`PkiError::Decrypt`].
    pub fn decrypt(&self, sealed: &[u8]) -> Result<Vec<u8>, PkiError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEAL_VERSION {
            return Err(PkiError::Decrypt);
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| PkiError::Decrypt)?;
        self.cipher()
            .decrypt(&nonce, ciphertext)
            .map_err(|_| PkiError::Decrypt)
    }
}

/// The CA as persisted: certificate PEM in clear, private key sealed under the master key.
#[derive(Clone, Debug)]
pub struct StoredCa {
    /// The CA certificate (PEM), public.
    pub cert_pem: String,
    /// The CA private key (PKCS#8 DER) sealed with [`MasterKey::encrypt`].
    pub sealed_key: Vec<u8>,
}

/// A loaded CA able to sign server and device certificates.
pub struct CertificateAuthority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Creates a fresh self-signed CA (`CN = common_name`, `O = Centinela`,
    /// path length 0, valid from one hour ago for ten years, ECDSA P-256).
    pub fn generate(common_name: &str) -> Result<CertificateAuthority, PkiError> {
        let key = KeyPair::generate()?;
        let subject = [
            (DnType::CommonName, common_name),
            (DnType::OrganizationName, CA_ORGANIZATION),
        ];
        let mut params = base_params(Vec::new(), &subject, CA_VALIDITY_DAYS)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert_pem = params.self_signed(&key)?.pem();
        Ok(CertificateAuthority {
            cert_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// Seals the CA private key under `key` for persistence.
    pub fn seal(&self, key: &MasterKey) -> StoredCa {
        StoredCa {
            cert_pem: self.cert_pem.clone(),
            sealed_key: key.encrypt(self.issuer.key().serialized_der()),
        }
    }

    /// Loads a persisted CA: decrypts its key and checks it matches the certificate.
    pub fn unseal(stored: &StoredCa, key: &MasterKey) -> Result<CertificateAuthority, PkiError> {
        let der = key.decrypt(&stored.sealed_key)?;
        let key_pair = KeyPair::try_from(der.as_slice())
            .map_err(|e| PkiError::InvalidCa(format!("unreadable private key: {e}")))?;
        let cert_der = pem_to_der(&stored.cert_pem)?;
        if !contains(&cert_der, &key_pair.subject_public_key_info()) {
            return Err(PkiError::InvalidCa(
                "private key does not match the certificate".into(),
            ));
        }
        let issuer = Issuer::from_ca_cert_pem(&stored.cert_pem, key_pair)
            .map_err(|e| PkiError::InvalidCa(format!("unreadable certificate: {e}")))?;
        Ok(CertificateAuthority {
            cert_pem: stored.cert_pem.clone(),
            issuer,
        })
    }

    /// The CA certificate (PEM), to be trusted by the broker and by devices.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Server certificate for the MQTT TLS listener: SANs = the given DNS names
    /// and IPs (always including `localhost` and `127.0.0.1`), EKU serverAuth,
    /// valid from one hour ago for one year, fresh key. Returns `(cert_pem, key_pem)`.
    pub fn issue_server_certificate(&self, hosts: &[String]) -> Result<(String, String), PkiError> {
        let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        for host in hosts {
            if !names.contains(host) {
                names.push(host.clone());
            }
        }
        let key = KeyPair::generate()?;
        let subject = [(DnType::CommonName, SERVER_COMMON_NAME)];
        let mut params = base_params(names, &subject, SERVER_VALIDITY_DAYS)?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Signs a device CSR (PEM). Whatever the CSR asks for is discarded except
    /// its (signature-verified) public key: subject becomes `CN = O = device_key`,
    /// EKU clientAuth only, not a CA, valid from one hour ago for `validity_days`.
    /// Returns the signed certificate PEM.
    pub fn sign_device_csr(
        &self,
        csr_pem: &str,
        device_key: &str,
        validity_days: u32,
    ) -> Result<String, PkiError> {
        if !is_valid_device_key(device_key) {
            return Err(PkiError::InvalidDeviceKey);
        }
        // `from_pem` parses the CSR and verifies its self-signature.
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| PkiError::InvalidCsr(e.to_string()))?;
        csr.params = device_params(device_key, validity_days)?;
        Ok(csr.signed_by(&self.issuer)?.pem())
    }
}

/// Builds device certificate parameters from scratch (nothing from the CSR).
fn device_params(device_key: &str, validity_days: u32) -> Result<CertificateParams, PkiError> {
    let subject = [
        (DnType::CommonName, device_key),
        (DnType::OrganizationName, device_key),
    ];
    let mut params = base_params(Vec::new(), &subject, validity_days)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// Parameters with exactly `subject`, the given SANs, a random serial and a
/// validity from one hour ago to `days` from now (zero or out-of-range days are refused).
fn base_params(
    sans: Vec<String>,
    subject: &[(DnType, &str)],
    days: u32,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(sans)?;
    params.distinguished_name = DistinguishedName::new();
    for (ty, value) in subject {
        params.distinguished_name.push(ty.clone(), *value);
    }
    params.serial_number = Some(random_serial()?);
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    // A u32 number of days cannot overflow `Duration`, only the calendar.
    params.not_after = now
        .checked_add(Duration::days(i64::from(days)))
        .filter(|_| days > 0)
        .ok_or(PkiError::InvalidValidity(days))?;
    Ok(params)
}

/// Makes a fresh ECDSA P-256 key pair and a CSR with `CN = device_key_hint`
/// (the signer overrides the subject anyway). Returns `(csr_pem, private_key_pem)`.
pub fn generate_device_csr(device_key_hint: &str) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::new())?;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, device_key_hint);
    let csr_pem = params.serialize_request(&key)?.pem()?;
    Ok((csr_pem, key.serialize_pem()))
}

/// True if `key` is exactly 32 lowercase hexadecimal characters.
fn is_valid_device_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A random positive 128-bit serial number.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes =
        <[u8; 16] as Generate>::try_generate().map_err(|e| PkiError::Random(e.to_string()))?;
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Decodes the first PEM block of `pem` into DER.
fn pem_to_der(pem: &str) -> Result<Vec<u8>, PkiError> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    BASE64
        .decode(body)
        .map_err(|_| PkiError::InvalidCa("certificate is not valid PEM".into()))
}

/// True if `needle` occurs as a contiguous run inside `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PkiError as E;
    use x509_parser::extensions::{ExtendedKeyUsage, GeneralName};
    use x509_parser::pem::parse_x509_pem;
    use x509_parser::prelude::X509Certificate;
    use x509_parser::x509::AttributeTypeAndValue;

    const DEVICE: &str = "0123456789abcdef0123456789abcdef";

    /// Asserts that `$e` is `Err($p)`.
    macro_rules! refused {
        ($e:expr, $p:pat) => {
            assert!(matches!($e, Err($p)), "unexpected: {:?}", $e)
        };
    }

    fn master(byte: u8) -> MasterKey {
        MasterKey::from_base64(&BASE64.encode([byte; 32])).expect("key")
    }

    fn ca() -> CertificateAuthority {
        CertificateAuthority::generate("Test CA").expect("ca")
    }

    fn der_of(pem: &str) -> Vec<u8> {
        parse_x509_pem(pem.as_bytes()).expect("pem").1.contents
    }

    fn parse(der: &[u8]) -> X509Certificate<'_> {
        x509_parser::parse_x509_certificate(der).expect("cert").1
    }

    fn csr_pem(body: &str) -> String {
        format!("-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----")
    }

    fn first<'a>(mut it: impl Iterator<Item = &'a AttributeTypeAndValue<'a>>) -> String {
        it.next().expect("attr").as_str().expect("str").to_string()
    }

    fn eku<'a>(cert: &'a X509Certificate<'_>) -> &'a ExtendedKeyUsage<'a> {
        cert.extended_key_usage()
            .expect("eku")
            .expect("present")
            .value
    }

    #[test]
    fn master_key_round_trip() {
        let sealed = master(7).encrypt(b"secret");
        assert_eq!(sealed[0], SEAL_VERSION);
        assert_eq!(master(7).decrypt(&sealed).expect("decrypt"), b"secret");
        assert_eq!(format!("{:?}", master(7)), "MasterKey(**redacted**)");
    }

    #[test]
    fn wrong_key_and_tampering_fail() {
        let sealed = master(7).encrypt(b"secret");
        refused!(master(8).decrypt(&sealed), E::Decrypt);
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        refused!(master(7).decrypt(&tampered), E::Decrypt);
        let mut bad_version = sealed;
        bad_version[0] = 2;
        refused!(master(7).decrypt(&bad_version), E::Decrypt);
        refused!(master(7).decrypt(&[1, 2]), E::Decrypt);
        let msg = PkiError::Decrypt.to_string();
        assert_eq!(msg, "cannot decrypt: wrong master key or corrupted data");
    }

    #[test]
    fn from_base64_rejects_bad_input() {
        let short = BASE64.encode([1u8; 31]);
        let err = MasterKey::from_base64(&short)
            .expect_err("31 bytes")
            .to_string();
        assert!(err.contains("32 bytes") && !err.contains(&short));
        refused!(
            MasterKey::from_base64("not base64!!"),
            E::InvalidMasterKey(_)
        );
    }

    #[test]
    fn ca_seal_unseal_still_signs() {
        let ca = ca();
        let stored = ca.seal(&master(7));
        let loaded = CertificateAuthority::unseal(&stored, &master(7)).expect("unseal");
        assert_eq!(loaded.cert_pem(), ca.cert_pem());
        let (csr, _) = generate_device_csr(DEVICE).expect("csr");
        let der = der_of(&loaded.sign_device_csr(&csr, DEVICE, 30).expect("sign"));
        let ca_der = der_of(ca.cert_pem());
        let ca_cert = parse(&ca_der);
        let verified = parse(&der).verify_signature(Some(ca_cert.public_key()));
        verified.expect("signed by the CA");
        refused!(
            CertificateAuthority::unseal(&stored, &master(8)),
            E::Decrypt
        );
        let other = CertificateAuthority::generate("Other").expect("ca");
        let cert_pem = other.cert_pem().to_string();
        let mixed = StoredCa { cert_pem, ..stored };
        refused!(
            CertificateAuthority::unseal(&mixed, &master(7)),
            E::InvalidCa(_)
        );
    }

    #[test]
    fn device_subject_is_forced() {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec!["evil.example".into()]).expect("params");
        let subject = &mut params.distinguished_name;
        subject.push(DnType::OrganizationName, "evil");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let csr = params.serialize_request(&key).expect("csr");
        let csr = csr.pem().expect("pem");
        let der = der_of(&ca().sign_device_csr(&csr, DEVICE, 30).expect("sign"));
        let cert = parse(&der);
        assert_eq!(first(cert.subject().iter_organization()), DEVICE);
        assert_eq!(first(cert.subject().iter_common_name()), DEVICE);
        assert_eq!(cert.subject().iter().count(), 2);
        assert!(eku(&cert).client_auth && !eku(&cert).server_auth);
        assert!(!cert.is_ca());
        assert!(cert.subject_alternative_name().expect("san").is_none());
    }

    #[test]
    fn bad_csr_and_device_key_are_refused() {
        let ca = ca();
        let garbage = csr_pem("AAAA");
        refused!(ca.sign_device_csr(&garbage, DEVICE, 30), E::InvalidCsr(_));
        refused!(ca.sign_device_csr("nonsense", DEVICE, 30), E::InvalidCsr(_));
        let (csr, _) = generate_device_csr("x").expect("csr");
        for bad in [
            "zz23456789abcdef0123456789abcdef",
            &DEVICE.to_uppercase(),
            "abc",
        ] {
            refused!(ca.sign_device_csr(&csr, bad, 30), E::InvalidDeviceKey);
        }
        refused!(ca.sign_device_csr(&csr, DEVICE, 0), E::InvalidValidity(0));
        refused!(
            ca.sign_device_csr(&csr, DEVICE, u32::MAX),
            E::InvalidValidity(_)
        );
    }

    #[test]
    fn tampered_csr_signature_is_refused() {
        let (csr, _) = generate_device_csr(DEVICE).expect("csr");
        let mut der = parse_x509_pem(csr.as_bytes()).expect("pem").1.contents;
        // Rewrite the requested CN in place: the CSR still parses, its signature no longer matches.
        let at = der
            .windows(DEVICE.len())
            .position(|w| w == DEVICE.as_bytes());
        der[at.expect("cn in csr")] = b'f';
        let pem = csr_pem(&BASE64.encode(der));
        refused!(ca().sign_device_csr(&pem, DEVICE, 30), E::InvalidCsr(_));
    }

    #[test]
    fn server_certificate_has_localhost_sans() {
        let hosts = ["mqtt.example.com".to_string(), "10.0.0.1".to_string()];
        let (cert_pem, key_pem) = ca().issue_server_certificate(&hosts).expect("server");
        assert!(KeyPair::from_pem(&key_pem).is_ok());
        let der = der_of(&cert_pem);
        let cert = parse(&der);
        let san = cert
            .subject_alternative_name()
            .expect("san")
            .expect("present");
        let names = &san.value.general_names;
        assert!(names.contains(&GeneralName::DNSName("localhost")));
        assert!(names.contains(&GeneralName::DNSName("mqtt.example.com")));
        assert!(names.contains(&GeneralName::IPAddress(&[127, 0, 0, 1])));
        assert!(names.contains(&GeneralName::IPAddress(&[10, 0, 0, 1])));
        assert!(eku(&cert).server_auth && !eku(&cert).client_auth);
    }
}
