//! A requester's part of its tenant, as the API checks it on top of row-level security: the
//! devices on the caller's sites ([`Caller::site_ids`], loaded on every request).
//!
//! Objects that carry a site are checked with [`Caller::sees_site`]; objects that carry only a
//! device (alerts, script runs) with [`DeviceScope::sees`]. Both answer "visible" for every
//! role but a requester. Anything a requester may not see answers 404 like another tenant's.

use crate::caller::Caller;
use crate::error::ApiError;
use centinela_model::Role;
use centinela_storage::{PgConnection, devices, health};
use std::collections::HashSet;
use uuid::Uuid;

/// The devices a caller may see within the tenants it sees: `None` is every device.
#[derive(Debug, Clone, Default)]
pub struct DeviceScope(Option<HashSet<Uuid>>);

impl DeviceScope {
    /// Loads the devices on a requester's sites; every device for other roles (no query).
    pub async fn load(conn: &mut PgConnection, caller: &Caller) -> Result<DeviceScope, ApiError> {
        if caller.role != Role::Requester {
            return Ok(DeviceScope(None));
        }
        let ids = health::devices_on_sites(conn, &caller.site_ids).await?;
        Ok(DeviceScope(Some(ids.into_iter().collect())))
    }

    /// A scope that sees exactly `ids` (a NOC session's cached set).
    pub fn only(ids: impl IntoIterator<Item = Uuid>) -> DeviceScope {
        DeviceScope(Some(ids.into_iter().collect()))
    }

    /// Whether the device is visible.
    pub fn sees(&self, device: Uuid) -> bool {
        self.0.as_ref().is_none_or(|ids| ids.contains(&device))
    }

    /// Whether an event about `device` (none: a tenant-wide event) is visible.
    pub fn sees_event(&self, device: Option<Uuid>) -> bool {
        match (&self.0, device) {
            (None, _) => true,
            (Some(ids), Some(device)) => ids.contains(&device),
            (Some(_), None) => false,
        }
    }
}

/// 404 unless the caller may see objects of the device `device_id` (the device's site is read
/// only for a requester).
pub async fn ensure_device_visible(
    conn: &mut PgConnection,
    caller: &Caller,
    device_id: Uuid,
) -> Result<(), ApiError> {
    if caller.role != Role::Requester {
        return Ok(());
    }
    match devices::get(conn, device_id).await {
        Ok(device) if caller.sees_site(Some(device.site_id)) => Ok(()),
        Ok(_) | Err(centinela_storage::StorageError::NotFound) => Err(ApiError::NotFound),
        Err(other) => Err(other.into()),
    }
}

/// 403 for a requester: tenant configuration (thresholds, log rules) is not part of its
/// portal.
pub fn deny(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.role == Role::Requester {
        return Err(ApiError::Forbidden(format!("requesters do not see {what}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_scope_passes_everything_or_only_its_devices() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let all = DeviceScope::default();
        assert!(all.sees(a) && all.sees_event(None));
        let only = DeviceScope::only([a]);
        assert!(only.sees(a) && !only.sees(b));
        assert!(only.sees_event(Some(a)));
        assert!(!only.sees_event(Some(b)) && !only.sees_event(None));
    }
}
