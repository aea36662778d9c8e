//! Router credentials at rest: JSON `{username, password}` sealed with AES-256-GCM under the
//! master key ([`MasterKey::encrypt`]). They exist in clear only inside a poller, never in logs.

use crate::pki::{MasterKey, PkiError};
use serde::{Deserialize, Serialize};

/// A router's API login.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RouterCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why sealed credentials could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot decrypt the router credentials (wrong master key or damaged data)")]
    Decrypt(#[from] PkiError),
    #[error("decrypted router credentials are malformed: {0}")]
    Malformed(#[from] serde_json::Error),
}

impl RouterCredentials {
    pub fn seal(&self, key: &MasterKey) -> Vec<u8> {
        // Serializing two strings cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        key.encrypt(&json)
    }

    pub fn unseal(sealed: &[u8], key: &MasterKey) -> Result<RouterCredentials, CredentialsError> {
        let json = key.decrypt(sealed)?;
        Ok(serde_json::from_slice(&json)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn key(byte: u8) -> MasterKey {
        let b64 = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        MasterKey::from_base64(&b64).expect("valid key")
    }

    #[test]
    fn seal_round_trips_and_refuses_another_key() {
        let creds = RouterCredentials {
            username: "api".into(),
            password: "s3cr3t ñ".into(),
        };
        let sealed = creds.seal(&key(1));
        assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"), "never in clear");
        assert_eq!(
            RouterCredentials::unseal(&sealed, &key(1)).expect("opens"),
            creds
        );
        assert!(matches!(
            RouterCredentials::unseal(&sealed, &key(2)),
            Err(CredentialsError::Decrypt(_))
        ));
        assert!(!format!("{creds:?}").contains("s3cr3t"));
    }
}
