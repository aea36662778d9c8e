//! The engine's say over each MQTT connection (the patched rumqttd's `ConnectionHooks`): one
//! device identity per connection, at most `max_connections` per device, and only what the
//! engine consumes may be sent. Every refusal is counted on `centinela_mqtt_refused{reason}`:
//!
//! | reason | what | answer |
//! |---|---|---|
//! | `identity` | no username, or the certificate names another device than the login | CONNACK 5, closed |
//! | `connections` | the device already has `max_connections` connections | CONNACK 5, closed |
//! | `retained` | a PUBLISH (or will) with the retain flag | connection closed |
//! | `topic` | a PUBLISH (or will) outside the device's own consumed topics | connection closed |
//! | `filter` | a SUBSCRIBE outside `/tenants/{device_key}/` | connection closed |
//! | `subscriptions` | more than `max_subscriptions` filters at once | connection closed |
//! | `handshake_timeout`, `handshake_failed` | TLS handshake not done in time, or failed | closed |
//!
//! MQTT 3.1.1 has no negative PUBACK, so a refused packet closes the connection: the client
//! sees it, and the router never stores or forwards the packet. Connections the engine ends
//! (device deleted, token replaced) are counted on `centinela_sessions_closed`.

use crate::sessions::{DeviceSessions, Lease, Opening, Transport};
use centinela_actors::Telemetry;
use centinela_model::DeviceId;
use centinela_model::payload::parse_topic;
use rumqttd::{ConnectionHooks, Login, Refusal, Session, SessionRules};
use std::collections::HashSet;
use std::sync::Arc;

/// The engine's hooks for one listener.
#[derive(Debug, Clone)]
pub struct EngineHooks {
    pub sessions: DeviceSessions,
    pub telemetry: Arc<Telemetry>,
    /// Connections one device may hold at once.
    pub max_connections: usize,
    /// Subscription filters one connection may hold at once.
    pub max_subscriptions: usize,
}

impl EngineHooks {
    fn refuse(&self, reason: Refusal, login: &Login<'_>) -> Refusal {
        self.telemetry.mqtt_refusal(reason);
        tracing::warn!(
            reason,
            client_id = login.client_id,
            username = login.username,
            "MQTT connection refused."
        );
        reason
    }
}

impl ConnectionHooks for EngineHooks {
    fn admit(&self, login: &Login<'_>) -> Result<Session, Refusal> {
        // The auth handler has checked username = device key and password = its token.
        let device = login
            .username
            .and_then(DeviceId::from_key)
            .ok_or_else(|| self.refuse("identity", login))?;
        // With a client certificate, it must be the same device's (its subject O).
        if login.tenant_id.is_some_and(|tenant| tenant != device.key()) {
            return Err(self.refuse("identity", login));
        }
        let mut rules = DeviceRules {
            device,
            prefix: format!("/tenants/{}/", device.key()),
            filters: HashSet::new(),
            max_subscriptions: self.max_subscriptions,
            telemetry: self.telemetry.clone(),
            lease: None,
        };
        if let Some((topic, retain)) = login.will {
            rules
                .publish(topic, retain)
                .map_err(|reason| self.refuse(reason, login))?;
        }
        let token_hash = centinela_storage::token_hash(login.password.unwrap_or_default());
        let lease = self
            .sessions
            .open(Opening {
                device: device.0,
                transport: Transport::Mqtt,
                // An empty id gets a fresh one from the broker: never a replacement.
                client_id: Some(login.client_id).filter(|id| !id.is_empty()),
                token_hash: &token_hash,
                limit: self.max_connections,
            })
            .map_err(|_| self.refuse("connections", login))?;
        let closed = Box::pin(lease.closed());
        rules.lease = Some(lease);
        Ok(Session {
            closed,
            rules: Box::new(rules),
        })
    }

    fn refused(&self, reason: Refusal) {
        self.telemetry.mqtt_refusal(reason);
    }
}

/// One connection's checks; holds its lease, so the session is forgotten when it is dropped.
struct DeviceRules {
    device: DeviceId,
    prefix: String,
    filters: HashSet<String>,
    max_subscriptions: usize,
    telemetry: Arc<Telemetry>,
    lease: Option<Lease>,
}

impl DeviceRules {
    fn refuse(&self, reason: Refusal) -> Refusal {
        self.telemetry.mqtt_refusal(reason);
        tracing::warn!(device_id = %self.device, reason, "MQTT packet refused; connection closed.");
        reason
    }
}

impl SessionRules for DeviceRules {
    fn publish(&mut self, topic: &[u8], retain: bool) -> Result<(), Refusal> {
        if retain {
            return Err(self.refuse("retained"));
        }
        let own = std::str::from_utf8(topic)
            .ok()
            .and_then(|topic| parse_topic(topic).ok())
            .is_some_and(|(device, _)| device == self.device);
        if !own {
            return Err(self.refuse("topic"));
        }
        Ok(())
    }

    fn subscribe(&mut self, filter: &str) -> Result<(), Refusal> {
        if !filter.starts_with(&self.prefix) {
            return Err(self.refuse("filter"));
        }
        if !self.filters.contains(filter) && self.filters.len() >= self.max_subscriptions {
            return Err(self.refuse("subscriptions"));
        }
        self.filters.insert(filter.to_owned());
        Ok(())
    }

    fn unsubscribe(&mut self, filter: &str) {
        self.filters.remove(filter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn hooks() -> EngineHooks {
        let telemetry = Arc::new(Telemetry::new());
        EngineHooks {
            sessions: DeviceSessions::new(telemetry.clone()),
            telemetry,
            max_connections: 2,
            max_subscriptions: 2,
        }
    }

    fn login<'a>(key: &'a str, client_id: &'a str) -> Login<'a> {
        Login {
            client_id,
            username: Some(key),
            password: Some("token"),
            tenant_id: Some(key),
            will: None,
        }
    }

    #[test]
    fn admits_the_devices_own_topics_and_refuses_the_rest() {
        let hooks = hooks();
        let key = DeviceId(Uuid::new_v4()).key();
        let other = DeviceId(Uuid::new_v4()).key();
        let mut session = hooks.admit(&login(&key, "a")).unwrap();
        let rules = session.rules.as_mut();
        for kind in [
            "telemetry",
            "heartbeat",
            "inventory",
            "events",
            "commands/c1/result",
        ] {
            let topic = format!("/tenants/{key}/{kind}");
            assert_eq!(rules.publish(topic.as_bytes(), false), Ok(()), "{kind}");
        }
        let telemetry = format!("/tenants/{key}/telemetry");
        assert_eq!(rules.publish(telemetry.as_bytes(), true), Err("retained"));
        for topic in [
            format!("/tenants/{key}/other"),
            format!("/tenants/{other}/telemetry"),
            "$SYS/x".to_owned(),
        ] {
            assert_eq!(rules.publish(topic.as_bytes(), false), Err("topic"));
        }
        let commands = format!("/tenants/{key}/commands");
        assert_eq!(rules.subscribe(&commands), Ok(()));
        assert_eq!(rules.subscribe(&commands), Ok(()));
        assert_eq!(rules.subscribe(&format!("/tenants/{key}/a")), Ok(()));
        assert_eq!(
            rules.subscribe(&format!("/tenants/{key}/b")),
            Err("subscriptions")
        );
        rules.unsubscribe(&commands);
        assert_eq!(rules.subscribe(&format!("/tenants/{key}/b")), Ok(()));
        assert_eq!(rules.subscribe("/tenants/+/commands"), Err("filter"));
        assert_eq!(
            hooks
                .telemetry
                .mqtt_refused
                .get_or_create(&vec![("reason".into(), "topic".into())])
                .get(),
            3
        );
    }

    #[test]
    fn one_identity_per_connection_and_a_cap_per_device() {
        let hooks = hooks();
        let key = DeviceId(Uuid::new_v4()).key();
        let other = DeviceId(Uuid::new_v4()).key();
        let mismatch = Login {
            tenant_id: Some(&other),
            ..login(&key, "a")
        };
        assert_eq!(hooks.admit(&mismatch).err(), Some("identity"));
        let retained_will = Login {
            will: Some((b"/tenants/x/telemetry", true)),
            ..login(&key, "a")
        };
        assert_eq!(hooks.admit(&retained_will).err(), Some("retained"));
        let first = hooks.admit(&login(&key, "a")).unwrap();
        let _second = hooks.admit(&login(&key, "b")).unwrap();
        assert_eq!(hooks.admit(&login(&key, "c")).err(), Some("connections"));
        drop(first);
        assert!(hooks.admit(&login(&key, "c")).is_ok());
    }
}
