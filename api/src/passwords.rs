//! Password hashing (argon2id, PHC strings) and the in-memory login failure limiter.

use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Hashes a password as an argon2id PHC string (random salt, default parameters).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| ApiError::Internal(format!("hashing a password failed: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a stored PHC string (false for a malformed hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A hash to verify against when the email is unknown, so that an unknown email costs as much
/// time as a wrong password and does not reveal which accounts exist.
pub static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("centinela-timing-equaliser").unwrap_or_default());

/// Failed logins allowed per email within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// The window failures are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Emails tracked before old entries are swept (bounds memory under a spray of emails).
const MAX_TRACKED: usize = 10_000;

/// Recent login failures per (lowercased) email. Process-wide, so every HTTP worker shares it.
static FAILURES: LazyLock<Mutex<HashMap<String, VecDeque<Instant>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn prune(attempts: &mut VecDeque<Instant>, now: Instant) {
    while attempts
        .front()
        .is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW)
    {
        attempts.pop_front();
    }
}

/// 429 when the email has failed too often recently.
pub fn check_not_limited(email: &str) -> Result<(), ApiError> {
    let mut map = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    if let Some(attempts) = map.get_mut(&email.to_lowercase()) {
        prune(attempts, now);
        if attempts.len() >= MAX_FAILURES {
            return Err(ApiError::RateLimited);
        }
    }
    Ok(())
}

/// Records a failed login.
pub fn record_failure(email: &str) {
    let mut map = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    if map.len() >= MAX_TRACKED {
        map.retain(|_, attempts| {
            prune(attempts, now);
            !attempts.is_empty()
        });
    }
    map.entry(email.to_lowercase()).or_default().push_back(now);
}

/// Forgets the failures of an email after a successful login.
pub fn record_success(email: &str) {
    let mut map = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    map.remove(&email.to_lowercase());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_reject() {
        let hash = hash_password("Correcto123!").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("Correcto123!", &hash));
        assert!(!verify_password("incorrecto", &hash));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn limiter_trips_after_max_failures_and_resets_on_success() {
        let email = format!("{}@limit.test", uuid::Uuid::new_v4());
        for _ in 0..MAX_FAILURES {
            assert!(check_not_limited(&email).is_ok());
            record_failure(&email);
        }
        assert!(matches!(
            check_not_limited(&email.to_uppercase()),
            Err(ApiError::RateLimited)
        ));
        record_success(&email);
        assert!(check_not_limited(&email).is_ok());
    }
}
