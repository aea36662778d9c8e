//! Typed identifiers. Each wraps a UUID so a tenant id can never be passed where a device id is
//! expected. A device is also addressed by its `device_key`: the same UUID as 32 lowercase hex
//! digits, which is what MQTT topics and client certificates carry.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random identifier.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(/// A client organisation: the isolation boundary.
    TenantId);
id_type!(/// A site (office, branch) of a tenant.
    SiteId);
id_type!(/// A monitored device: an agent host or a router.
    DeviceId);
id_type!(/// A user account.
    UserId);
id_type!(/// An alert.
    AlertId);
id_type!(/// A helpdesk ticket.
    TicketId);
id_type!(/// A threshold rule.
    ThresholdId);

impl DeviceId {
    /// The device key: the id as 32 lowercase hex digits (no hyphens).
    pub fn key(&self) -> String {
        self.0.simple().to_string()
    }

    /// Parses a device key. Only the canonical form (32 lowercase hex digits) is accepted, so
    /// that one device has exactly one topic prefix.
    pub fn from_key(key: &str) -> Option<Self> {
        let canonical = key.len() == 32
            && key
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !canonical {
            return None;
        }
        Uuid::parse_str(key).ok().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_key_round_trips_and_rejects_non_canonical_forms() {
        let id = DeviceId::new();
        let key = id.key();
        assert_eq!(key.len(), 32);
        assert_eq!(DeviceId::from_key(&key), Some(id));
        assert_eq!(DeviceId::from_key(&key.to_uppercase()), None);
        assert_eq!(DeviceId::from_key(&id.to_string()), None);
        assert_eq!(DeviceId::from_key("zz"), None);
    }
}
