//! What the engine hands the API: the runtime, auth settings, the certificate signer and the
//! MQTT endpoint agents are told to connect to.

use crate::sessions::AuthGuards;
use centinela_actors::Runtime;
use centinela_storage::Store;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Shared state of every request handler (cheap to clone).
#[derive(Clone)]
pub struct ApiState {
    /// The running core (store, hub, device actors, telemetry).
    pub runtime: Runtime,
    /// The API's own pool (with a statement timeout), apart from the engine's: request
    /// handlers never wait behind ingest or alert storage, nor hold them up.
    pub store: Store,
    /// JWT settings.
    pub auth: AuthConfig,
    /// Signs agent CSRs with the engine's CA.
    pub signer: Arc<dyn CertificateSigner>,
    /// Where agents connect over MQTT.
    pub mqtt: MqttEndpoint,
    /// Whether the embedded broker is up (for `/readyz`).
    pub broker_up: Arc<AtomicBool>,
    /// Seals router credentials under the master key.
    pub sealer: Arc<dyn CredentialSealer>,
    /// Signs commands to agents (Ed25519); agents get the public key at enrollment.
    pub command_signer: Arc<dyn CommandSigner>,
    /// What agents are told at enrollment.
    pub agents: AgentSettings,
    /// Login limiters, password hashing slots and the live NOC sessions (built from `auth`
    /// with [`AuthGuards::new`]).
    pub guards: AuthGuards,
}

/// Implemented by the engine over its command signing key.
pub trait CommandSigner: Send + Sync {
    /// The Ed25519 signature of `payload`.
    fn sign(&self, payload: &[u8]) -> Vec<u8>;
    /// The raw 32-byte public key, base64 (standard).
    fn public_key_base64(&self) -> String;
}

/// Agent intervals and command lifetime.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AgentSettings {
    pub telemetry_s: u32,
    pub heartbeat_s: u32,
    pub inventory_s: u32,
    /// How long a command stays valid after it is issued.
    #[serde(skip)]
    pub command_ttl: Duration,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            telemetry_s: 30,
            heartbeat_s: 30,
            inventory_s: 86_400,
            command_ttl: Duration::from_secs(600),
        }
    }
}

/// Implemented by the engine over the master key: router credentials are sealed before they
/// reach storage and are never opened by the API.
pub trait CredentialSealer: Send + Sync {
    fn seal_router_credentials(&self, username: &str, password: &str) -> Vec<u8>;
}

/// Token settings.
#[derive(Clone)]
pub struct AuthConfig {
    /// HS256 secret of access and refresh tokens.
    pub jwt_secret: Vec<u8>,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Failed logins per email within `login_failure_window` before 429.
    pub login_failures_per_email: usize,
    /// Failed logins per client address within `login_failure_window` before 429.
    pub login_failures_per_address: usize,
    /// How long failed logins are remembered.
    pub login_failure_window: Duration,
    /// Password hashes computed at once.
    pub password_hash_concurrency: usize,
    /// How long a login waits for a hashing slot before 503.
    pub password_hash_wait: Duration,
    /// How often a `/ws/noc` session checks that its login session is still live.
    pub noc_session_check: Duration,
}

impl AuthConfig {
    /// Settings with the defaults: 15 minutes (access), 30 days (refresh), 5 failures per email
    /// and 20 per address in 5 minutes, 4 hashes at once with a 2 s wait, NOC sessions checked
    /// every 10 s.
    pub fn new(jwt_secret: Vec<u8>) -> AuthConfig {
        AuthConfig {
            jwt_secret,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            login_failures_per_email: 5,
            login_failures_per_address: 20,
            login_failure_window: Duration::from_secs(5 * 60),
            password_hash_concurrency: 4,
            password_hash_wait: Duration::from_secs(2),
            noc_session_check: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

/// The MQTT listener agents are sent to.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MqttEndpoint {
    pub host: String,
    pub port: u16,
}

/// Implemented by the engine over ingest's CA (api must not depend on ingest).
pub trait CertificateSigner: Send + Sync {
    /// Signs a device's CSR (PEM) with the subject organisation set to `device_key`; returns the
    /// certificate as PEM or a reason the CSR was refused.
    fn sign_device_csr(&self, csr_pem: &str, device_key: &str) -> Result<String, String>;
    /// The CA certificate (PEM) agents trust.
    fn ca_certificate_pem(&self) -> String;
}
