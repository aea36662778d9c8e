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

/// Keys tracked before old entries are swept (bounds memory under a spray of emails).
const MAX_TRACKED: usize = 10_000;

/// Recent login failures per key (a lowercased email, or a client address): at most `max`
/// within `window`, then 429 until the oldest one ages out.
pub struct FailureLimiter {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FailureLimiter {
    pub fn new(max: usize, window: Duration) -> FailureLimiter {
        FailureLimiter {
            max: max.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn prune(&self, attempts: &mut VecDeque<Instant>, now: Instant) {
        while attempts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            attempts.pop_front();
        }
    }

    /// Whether the key has failed too often recently.
    pub fn is_limited(&self, key: &str) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match map.get_mut(&key.to_lowercase()) {
            Some(attempts) => {
                self.prune(attempts, now);
                attempts.len() >= self.max
            }
            None => false,
        }
    }

    /// Records a failure of the key.
    pub fn record_failure(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() >= MAX_TRACKED {
            map.retain(|_, attempts| {
                self.prune(attempts, now);
                !attempts.is_empty()
            });
        }
        map.entry(key.to_lowercase()).or_default().push_back(now);
    }

    /// Forgets the failures of a key (after a successful login with that email).
    pub fn forget(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&key.to_lowercase());
    }
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
    fn limiter_trips_after_max_failures_and_resets_on_forget() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
        let email = "alguien@limit.test";
        for _ in 0..3 {
            assert!(!limiter.is_limited(email));
            limiter.record_failure(email);
        }
        assert!(limiter.is_limited(&email.to_uppercase()));
        assert!(!limiter.is_limited("otra@limit.test"));
        limiter.forget(email);
        assert!(!limiter.is_limited(email));
    }

    #[test]
    fn failures_age_out_of_the_window() {
        let limiter = FailureLimiter::new(1, Duration::from_millis(20));
        limiter.record_failure("10.0.0.1");
        assert!(limiter.is_limited("10.0.0.1"));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!limiter.is_limited("10.0.0.1"));
    }
}
