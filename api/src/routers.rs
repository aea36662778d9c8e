//! The `routeros` part of a device: where the engine reaches the router. Credentials are sealed
//! on the way in (by the engine's [`CredentialSealer`](crate::CredentialSealer)) and never
//! shown again: views carry host, port and TLS settings only.

use crate::error::ApiError;
use crate::state::ApiState;
use centinela_storage::routers::{RouterTarget, TargetChange};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Default API ports of RouterOS.
const PLAIN_PORT: u16 = 8728;
const TLS_PORT: u16 = 8729;

/// `routeros` of `POST /api/devices`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRouterBody {
    pub host: String,
    pub port: Option<u16>,
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub tls: bool,
    /// Verify the router's certificate (off by default: routers ship self-signed ones).
    #[serde(default)]
    pub verify_tls: bool,
}

impl std::fmt::Debug for NewRouterBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRouterBody")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `routeros` of `PATCH /api/devices/{id}`: absent fields keep their value; a new username
/// and password come together, and any of `host`, `port`, `tls`, `verify_tls` needs both.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRouterBody {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: Option<bool>,
    pub verify_tls: Option<bool>,
}

impl std::fmt::Debug for PatchRouterBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchRouterBody")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// What the API shows of a router.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouterView {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub verify_tls: bool,
}

impl From<&RouterTarget> for RouterView {
    fn from(t: &RouterTarget) -> Self {
        RouterView {
            host: t.host.clone(),
            port: u16::try_from(t.port).unwrap_or(0),
            tls: t.tls,
            verify_tls: t.verify_tls,
        }
    }
}

fn validate_host(host: &str) -> Result<String, ApiError> {
    let host = host.trim();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_' | '[' | ']'));
    if ok {
        Ok(host.to_owned())
    } else {
        Err(ApiError::field(
            "routeros.host",
            "host must be a host name or an IP address",
        ))
    }
}

fn validate_port(port: u16) -> Result<i32, ApiError> {
    if port == 0 {
        return Err(ApiError::field("routeros.port", "port must be 1–65535"));
    }
    Ok(i32::from(port))
}

fn validate_login(username: &str, password: &str) -> Result<(), ApiError> {
    if username.trim().is_empty() || username.len() > 100 {
        return Err(ApiError::field(
            "routeros.username",
            "username must be 1–100 characters",
        ));
    }
    if password.len() > 200 {
        return Err(ApiError::field(
            "routeros.password",
            "password must be at most 200 characters",
        ));
    }
    Ok(())
}

/// Validates a new router and seals its credentials.
pub fn new_target(
    state: &ApiState,
    body: &NewRouterBody,
    device_id: Uuid,
    tenant_id: Uuid,
) -> Result<RouterTarget, ApiError> {
    let host = validate_host(&body.host)?;
    let default_port = if body.tls { TLS_PORT } else { PLAIN_PORT };
    let port = validate_port(body.port.unwrap_or(default_port))?;
    validate_login(&body.username, &body.password)?;
    Ok(RouterTarget {
        device_id,
        tenant_id,
        host,
        port,
        tls: body.tls,
        verify_tls: body.verify_tls,
        sealed_credentials: state
            .sealer
            .seal_router_credentials(body.username.trim(), &body.password),
        last_log_id: None,
    })
}

/// Where the engine connects (host, port, `tls`, `verify_tls`) changes only with the router's
/// username and password in the same request: otherwise whoever may edit a router could send
/// its stored password to a host of their choosing (in clear, with `tls: false`). 400 naming
/// the missing field. Checked after visibility and role, so it reveals nothing to others.
pub fn ensure_move_has_credentials(body: &PatchRouterBody) -> Result<(), ApiError> {
    let moves = [
        ("host", body.host.is_some()),
        ("port", body.port.is_some()),
        ("tls", body.tls.is_some()),
        ("verify_tls", body.verify_tls.is_some()),
    ];
    let Some((field, _)) = moves.iter().find(|(_, present)| *present) else {
        return Ok(());
    };
    for (name, missing) in [
        ("routeros.username", body.username.is_none()),
        ("routeros.password", body.password.is_none()),
    ] {
        if missing {
            return Err(ApiError::field(
                name,
                format!(
                    "changing routeros.{field} requires the router's username and password in the same request"
                ),
            ));
        }
    }
    Ok(())
}

/// Validates a router change, sealing new credentials.
pub fn change(state: &ApiState, body: &PatchRouterBody) -> Result<TargetChange, ApiError> {
    let sealed_credentials = match (&body.username, &body.password) {
        (None, None) => None,
        (Some(user), Some(password)) => {
            validate_login(user, password)?;
            Some(state.sealer.seal_router_credentials(user.trim(), password))
        }
        _ => {
            return Err(ApiError::field(
                "routeros.password",
                "username and password must be changed together",
            ));
        }
    };
    Ok(TargetChange {
        host: body.host.as_deref().map(validate_host).transpose()?,
        port: body.port.map(validate_port).transpose()?,
        tls: body.tls,
        verify_tls: body.verify_tls,
        sealed_credentials,
    })
}
