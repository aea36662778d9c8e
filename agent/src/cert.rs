//! The device's key pair, its certificate request, and the certificate's expiry.
//!
//! The private key is generated here (ECDSA P-256) and never leaves the machine: the engine
//! only sees the CSR, and forces the subject O to the device key itself. Renewal needs the
//! certificate's `notAfter`; a ~60-line DER walk reads it without another X.509 dependency.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

/// Renew when the certificate expires within this many days.
pub const RENEW_BEFORE_DAYS: i64 = 30;

/// Why a key, request or certificate could not be produced or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("key or certificate request generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the certificate is not valid PEM")]
    NotPem,
    #[error("the certificate is not a well-formed X.509 DER structure")]
    BadDer,
}

/// A fresh private key (PKCS#8 PEM) and a CSR (PEM) for it.
#[derive(Debug)]
pub struct KeyAndCsr {
    pub key_pem: String,
    pub csr_pem: String,
}

/// Generates a P-256 key and a CSR whose subject names the device (the engine overrides O).
pub fn generate_key_and_csr(device_key: &str) -> Result<KeyAndCsr, CertError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    csr_for_key(&key, device_key)
}

/// A CSR for an existing key (renewal keeps nothing from the old key: it uses a new one).
pub fn csr_for_key(key: &KeyPair, device_key: &str) -> Result<KeyAndCsr, CertError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, device_key);
    name.push(DnType::OrganizationName, device_key);
    params.distinguished_name = name;
    let csr = params.serialize_request(key)?;
    Ok(KeyAndCsr {
        key_pem: key.serialize_pem(),
        csr_pem: csr.pem()?,
    })
}

/// The `notAfter` of the first certificate in a PEM document.
pub fn not_after_pem(pem: &str) -> Result<DateTime<Utc>, CertError> {
    use base64::Engine;
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = pem.find(begin).ok_or(CertError::NotPem)? + begin.len();
    let end = pem[start..]
        .find("-----END CERTIFICATE-----")
        .ok_or(CertError::NotPem)?;
    let b64: String = pem[start..start + end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| CertError::NotPem)?;
    not_after_der(&der)
}

/// Whether a certificate expiring at `not_after` must be renewed at `now`.
pub fn needs_renewal(not_after: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    not_after - now < chrono::Duration::days(RENEW_BEFORE_DAYS)
}

/// Reads one DER TLV at `pos`: (tag, content start, content end).
fn tlv(der: &[u8], pos: usize) -> Result<(u8, usize, usize), CertError> {
    let tag = *der.get(pos).ok_or(CertError::BadDer)?;
    let first = *der.get(pos + 1).ok_or(CertError::BadDer)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err(CertError::BadDer);
        }
        let bytes = der.get(pos + 2..pos + 2 + count).ok_or(CertError::BadDer)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + count)
    };
    let start = pos + header;
    let end = start.checked_add(len).ok_or(CertError::BadDer)?;
    if end > der.len() {
        return Err(CertError::BadDer);
    }
    Ok((tag, start, end))
}

/// Certificate → tbsCertificate → [version] serial sigAlg issuer validity{notBefore notAfter}.
fn not_after_der(der: &[u8]) -> Result<DateTime<Utc>, CertError> {
    let (_, cert_start, _) = tlv(der, 0)?;
    let (_, tbs_start, _) = tlv(der, cert_start)?;
    let mut pos = tbs_start;
    let (tag, _, end) = tlv(der, pos)?;
    if tag == 0xa0 {
        pos = end; // explicit version
    }
    for _ in 0..3 {
        pos = tlv(der, pos)?.2; // serial, signature algorithm, issuer
    }
    let (_, validity_start, _) = tlv(der, pos)?;
    let not_before_end = tlv(der, validity_start)?.2;
    let (tag, start, end) = tlv(der, not_before_end)?;
    let text = std::str::from_utf8(&der[start..end]).map_err(|_| CertError::BadDer)?;
    parse_asn1_time(tag, text).ok_or(CertError::BadDer)
}

/// UTCTime (`YYMMDDHHMMSSZ`, tag 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, tag 0x18).
fn parse_asn1_time(tag: u8, text: &str) -> Option<DateTime<Utc>> {
    let digits = text.strip_suffix('Z')?;
    let full = match tag {
        0x17 => {
            let yy: i32 = digits.get(0..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{digits}")
        }
        0x18 => digits.to_owned(),
        _ => return None,
    };
    let num = |range: std::ops::Range<usize>| full.get(range)?.parse::<u32>().ok();
    let year = i32::try_from(num(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(4..6)?, num(6..8)?)?;
    let time: NaiveDateTime = date.and_hms_opt(num(8..10)?, num(10..12)?, num(12..14)?)?;
    Some(time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn self_signed(year: i32) -> String {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params.not_after = rcgen::date_time_ymd(year, 3, 4);
        params.self_signed(&key).expect("sign").pem()
    }

    #[test]
    fn reads_not_after_in_both_time_encodings() {
        // Years before 2050 use UTCTime, from 2050 on GeneralizedTime.
        for year in [2031, 2061] {
            let expected = Utc.with_ymd_and_hms(year, 3, 4, 0, 0, 0).single();
            assert_eq!(not_after_pem(&self_signed(year)).ok(), expected);
        }
    }

    #[test]
    fn renewal_window_is_thirty_days() {
        let now = Utc::now();
        assert!(needs_renewal(now + chrono::Duration::days(29), now));
        assert!(!needs_renewal(now + chrono::Duration::days(31), now));
    }

    #[test]
    fn csr_and_key_are_pem() {
        let out = generate_key_and_csr("0123456789abcdef0123456789abcdef").expect("csr");
        assert!(out.csr_pem.contains("BEGIN CERTIFICATE REQUEST"));
        assert!(out.key_pem.contains("BEGIN PRIVATE KEY"));
        assert!(matches!(not_after_pem("nope"), Err(CertError::NotPem)));
    }
}
