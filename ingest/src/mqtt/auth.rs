//! The broker's login check: a safe client id, username = device key, password = device
//! token. Runs on the broker's threads with its own small connection pool, so logins never wait
//! on the engine.
//!
//! Client ids are `[A-Za-z0-9_.:-]`, at most `max_client_id_len` characters (128 by default:
//! room for a device key and a UUID), or empty (the broker then assigns one). Everything else —
//! `/`, `+`, `#`, `$`, spaces, control characters — is refused before the database is asked,
//! and counted as `centinela_mqtt_refused{reason="client_id"}`: the broker builds topics, log
//! lines and session keys from it.

use centinela_actors::Telemetry;
use centinela_model::{DeviceId, Scope};
use centinela_storage::{Store, devices};
use std::sync::Arc;

/// Verifies device credentials against the database.
#[derive(Clone, Debug)]
pub struct DeviceAuth {
    store: Store,
    telemetry: Arc<Telemetry>,
    max_client_id_len: usize,
}

/// Whether a client id is safe for the broker (see the module's documentation).
pub fn valid_client_id(client_id: &str, max_len: usize) -> bool {
    client_id.len() <= max_len
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

impl DeviceAuth {
    pub fn new(store: Store, telemetry: Arc<Telemetry>, max_client_id_len: usize) -> DeviceAuth {
        DeviceAuth {
            store,
            telemetry,
            max_client_id_len,
        }
    }

    /// Whether the credentials belong to an existing device. Every refusal is counted.
    pub async fn verify(&self, client_id: &str, username: &str, password: &str) -> bool {
        if !valid_client_id(client_id, self.max_client_id_len) {
            self.telemetry.mqtt_refusal("client_id");
            // Debug formatting: the id may hold control characters.
            tracing::warn!(?client_id, username, "MQTT client id refused.");
            return false;
        }
        let ok = match DeviceId::from_key(username) {
            Some(device) => self.check(device, password).await,
            None => false,
        };
        if !ok {
            self.telemetry.mqtt_auth_failures.inc();
            tracing::warn!(client_id, username, "MQTT login refused.");
        }
        ok
    }

    async fn check(&self, device: DeviceId, token: &str) -> bool {
        let result = async {
            let mut tx = self.store.begin(Scope::All).await?;
            let found = devices::authenticate(&mut tx, device.0, token).await?;
            tx.commit().await?;
            Ok::<_, centinela_storage::StorageError>(found.is_some())
        }
        .await;
        result.unwrap_or_else(|error| {
            tracing::error!(%error, "MQTT login check failed.");
            false
        })
    }
}

#[cfg(test)]
mod tests {
    use super::valid_client_id;

    #[test]
    fn client_ids_are_a_safe_set_and_bounded() {
        for ok in ["", "a", "mosq-AbC_12.3:x", &"k".repeat(128)] {
            assert!(valid_client_id(ok, 128), "{ok:?}");
        }
        for bad in [
            "a/b",
            "a+",
            "#",
            "$SYS",
            "a b",
            "a\nb",
            "a\u{0}",
            "é",
            &"k".repeat(129),
        ] {
            assert!(!valid_client_id(bad, 128), "{bad:?}");
        }
    }
}
