//! The broker's login check: username = device key, password = device token. Runs on the
//! broker's threads with its own small connection pool, so logins never wait on the engine.

use centinela_actors::Telemetry;
use centinela_model::{DeviceId, Scope};
use centinela_storage::{Store, devices};
use std::sync::Arc;

/// Verifies device credentials against the database.
#[derive(Clone, Debug)]
pub struct DeviceAuth {
    store: Store,
    telemetry: Arc<Telemetry>,
}

impl DeviceAuth {
    pub fn new(store: Store, telemetry: Arc<Telemetry>) -> DeviceAuth {
        DeviceAuth { store, telemetry }
    }

    /// Whether the credentials belong to an existing device. Every refusal is counted.
    pub async fn verify(&self, client_id: &str, username: &str, password: &str) -> bool {
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
