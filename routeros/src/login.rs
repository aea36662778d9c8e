//! Login helpers (protocol reference §1.8).
//!
//! Why a module of its own: the < 6.43 MD5 challenge is pure computation with published
//! vectors, and both the client and the simulator need it, so it lives outside any I/O code.
//! The hybrid flow (plain first, challenge if `!done` carries `=ret=`) is driven by the client.

use md5::{Digest, Md5};

use crate::codec::Request;

/// Errors of the login helpers.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// The router's `=ret=` challenge is not hexadecimal.
    #[error("login challenge is not hexadecimal: {0:?}")]
    InvalidChallenge(String),
}

/// `"00" + hex(md5(0x00 ‖ password ‖ unhex(challenge)))`; `Err` if the challenge is not hex.
pub fn challenge_response(password: &[u8], challenge_hex: &str) -> Result<String, LoginError> {
    let challenge = hex::decode(challenge_hex)
        .map_err(|_| LoginError::InvalidChallenge(challenge_hex.to_owned()))?;
    let mut md5 = Md5::new();
    md5.update([0u8]);
    md5.update(password);
    md5.update(&challenge);
    Ok(format!("00{}", hex::encode(md5.finalize())))
}

/// The ≥ 6.43 login command: `/login =name=U =password=P`.
pub fn plain_login(username: &str, password: &str) -> Request {
    Request::new("/login")
        .attr("name", username)
        .attr("password", password)
}

/// The < 6.43 second step: `/login =name=U =response=00…`.
pub fn challenge_login(
    username: &str,
    password: &str,
    challenge_hex: &str,
) -> Result<Request, LoginError> {
    let response = challenge_response(password.as_bytes(), challenge_hex)?;
    Ok(Request::new("/login")
        .attr("name", username)
        .attr("response", response))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §1.8 verified vectors: (challenge, password, response).
    const VECTORS: &[(&str, &str, &str)] = &[
        (
            "856780b7411eefd3abadee2058c149a3",
            "",
            "005062f7a5ef124d34675bf3e81f56c556",
        ),
        (
            "93b438ec9b80057c06dd9fe67d56aa9a",
            "",
            "00e134102a9d330dd7b1849fedfea3cb57",
        ),
        (
            "259e0bc05acd6f46926dc2f809ed1bba",
            "test",
            "00c7fd865183a43a772dde231f6d0bff13",
        ),
        ("abc123", "passTest", "0021277bff9ac7caf06aa608e46616d47f"),
        (
            "856780b7411eefd3abadee2058c149a3",
            "secret",
            "009622e621f0892961a28bcf7a0cea13e4",
        ),
    ];

    #[test]
    fn md5_vectors() {
        for &(challenge, password, response) in VECTORS {
            assert_eq!(
                challenge_response(password.as_bytes(), challenge).as_deref(),
                Ok(response),
                "challenge {challenge} password {password:?}"
            );
        }
    }

    #[test]
    fn uppercase_challenge_is_accepted() {
        assert_eq!(
            challenge_response(b"", "856780B7411EEFD3ABADEE2058C149A3").as_deref(),
            Ok("005062f7a5ef124d34675bf3e81f56c556")
        );
    }

    #[test]
    fn invalid_challenges() {
        for challenge in ["xyz", "abc", "85 67"] {
            assert_eq!(
                challenge_response(b"", challenge),
                Err(LoginError::InvalidChallenge(challenge.to_owned()))
            );
        }
    }

    #[test]
    fn login_requests() {
        let plain = plain_login("admin", "secret");
        assert_eq!(plain.command, b"/login");
        assert_eq!(plain.get("name"), Some(&b"admin"[..]));
        assert_eq!(plain.get("password"), Some(&b"secret"[..]));
        let legacy = challenge_login("admin", "", "856780b7411eefd3abadee2058c149a3")
            .expect("valid challenge");
        assert_eq!(
            legacy.get("response"),
            Some(&b"005062f7a5ef124d34675bf3e81f56c556"[..])
        );
        assert!(challenge_login("admin", "", "zz").is_err());
    }
}
