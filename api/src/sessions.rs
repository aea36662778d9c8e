//! What guards logins and sessions at run time: the login failure limiters (per email and per
//! client address), the password hashing slots, and the registry of live NOC WebSocket
//! sessions by login session, so that a logout (or a reused refresh token) closes them at once.

use crate::error::ApiError;
use crate::passwords::{self, FailureLimiter};
use crate::state::AuthConfig;
use actix::{Message, Recipient};
use actix_web::web;
use centinela_actors::Telemetry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use uuid::Uuid;

/// Tells a NOC session to close with a WebSocket close code (see [`crate::noc`]).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct EndNoc {
    pub code: u16,
    pub reason: &'static str,
}

struct NocEntry {
    user_id: Uuid,
    session_id: Uuid,
    recipient: Recipient<EndNoc>,
}

/// Live NOC sessions, by their own id, with the user and login session they run under.
#[derive(Clone, Default)]
pub struct NocRegistry {
    live: Arc<Mutex<HashMap<Uuid, NocEntry>>>,
}

impl NocRegistry {
    /// Records (or moves, after a renewal) a NOC session.
    pub fn register(
        &self,
        noc_id: Uuid,
        user_id: Uuid,
        session_id: Uuid,
        recipient: Recipient<EndNoc>,
    ) {
        let entry = NocEntry {
            user_id,
            session_id,
            recipient,
        };
        self.lock().insert(noc_id, entry);
    }

    /// Forgets a closed NOC session.
    pub fn remove(&self, noc_id: Uuid) {
        self.lock().remove(&noc_id);
    }

    /// Closes the NOC sessions running under a login session; returns how many.
    pub fn end_session(&self, session_id: Uuid, end: EndNoc) -> usize {
        self.end_where(|e| e.session_id == session_id, end)
    }

    /// Closes every NOC session of a user; returns how many.
    pub fn end_user(&self, user_id: Uuid, end: EndNoc) -> usize {
        self.end_where(|e| e.user_id == user_id, end)
    }

    /// A scan is fine: there are as many entries as open dashboards, and logouts are rare.
    fn end_where(&self, matches: impl Fn(&NocEntry) -> bool, end: EndNoc) -> usize {
        let mut live = self.lock();
        let ids: Vec<Uuid> = live
            .iter()
            .filter(|(_, e)| matches(e))
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            if let Some(entry) = live.remove(id) {
                entry.recipient.do_send(end.clone());
            }
        }
        ids.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, NocEntry>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Unknown site keys an address may present at enrollment within [`ENROLL_FAILURE_WINDOW`].
pub const ENROLL_FAILURES: usize = 5;
/// The window enrollment failures are counted in.
pub const ENROLL_FAILURE_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Login limiters, hashing slots and the NOC registry (cheap to clone).
#[derive(Clone)]
pub struct AuthGuards {
    by_email: Arc<FailureLimiter>,
    by_address: Arc<FailureLimiter>,
    /// Unknown site keys per address at enrollment.
    enroll_by_address: Arc<FailureLimiter>,
    /// argon2 costs ~20 MiB and tens of milliseconds per hash: a login flood must queue here
    /// rather than take every blocking thread and the memory with it.
    hash_slots: Arc<Semaphore>,
    hash_wait: Duration,
    /// Live NOC sessions.
    pub noc: NocRegistry,
}

impl AuthGuards {
    pub fn new(auth: &AuthConfig) -> AuthGuards {
        AuthGuards {
            by_email: Arc::new(FailureLimiter::new(
                auth.login_failures_per_email,
                auth.login_failure_window,
            )),
            by_address: Arc::new(FailureLimiter::new(
                auth.login_failures_per_address,
                auth.login_failure_window,
            )),
            enroll_by_address: Arc::new(FailureLimiter::new(
                ENROLL_FAILURES,
                ENROLL_FAILURE_WINDOW,
            )),
            hash_slots: Arc::new(Semaphore::new(auth.password_hash_concurrency.max(1))),
            hash_wait: auth.password_hash_wait,
            noc: NocRegistry::default(),
        }
    }

    /// 429 when the email or the client address failed too often recently.
    pub fn check_login(
        &self,
        email: &str,
        address: &str,
        telemetry: &Telemetry,
    ) -> Result<(), ApiError> {
        if self.by_address.is_limited(address) {
            telemetry.auth_refused("address_limit");
            return Err(ApiError::RateLimited);
        }
        if self.by_email.is_limited(email) {
            telemetry.auth_refused("email_limit");
            return Err(ApiError::RateLimited);
        }
        Ok(())
    }

    /// Records a failed login against both limits.
    pub fn login_failed(&self, email: &str, address: &str) {
        self.by_email.record_failure(email);
        self.by_address.record_failure(address);
    }

    /// A successful login clears its email's failures (not its address's: one good account
    /// must not reset a guessing spree from the same place).
    pub fn login_succeeded(&self, email: &str) {
        self.by_email.forget(email);
    }

    /// Whether an address presented too many unknown site keys recently.
    pub fn enroll_limited(&self, address: &str) -> bool {
        self.enroll_by_address.is_limited(address)
    }

    /// Records an unknown site key from an address.
    pub fn enroll_failed(&self, address: &str) {
        self.enroll_by_address.record_failure(address);
    }

    /// Checks a password in a hashing slot, off the async workers; 503 `busy` when no slot
    /// frees up within the configured wait.
    pub async fn verify_password(
        &self,
        password: String,
        hash: String,
        telemetry: &Telemetry,
    ) -> Result<bool, ApiError> {
        let slot = tokio::time::timeout(self.hash_wait, self.hash_slots.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok);
        let Some(slot) = slot else {
            telemetry.auth_refused("hash_busy");
            return Err(ApiError::Busy(
                "too many logins at once; try again in a moment".into(),
            ));
        };
        let matches = web::block(move || {
            let _slot = slot;
            passwords::verify_password(&password, &hash)
        })
        .await?;
        Ok(matches)
    }
}
