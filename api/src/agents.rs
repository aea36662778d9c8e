//! `POST /api/agents/certificate`: an agent trades its device token and a CSR for a client
//! certificate of the engine's CA.

use crate::caller::bearer_token;
use crate::error::{ApiError, commit};
use crate::state::{AgentSettings, ApiState, MqttEndpoint};
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::{DeviceId, Scope};
use centinela_storage::{audit, devices};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CertificateBody {
    /// The agent's certificate signing request, PEM.
    pub csr: String,
}

/// `POST /api/agents/certificate` with `Authorization: Bearer <device token>`.
pub async fn certificate(
    req: HttpRequest,
    state: web::Data<ApiState>,
    body: web::Json<CertificateBody>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_token(&req)
        .ok_or_else(|| ApiError::Unauthorized("a bearer device token is required".into()))?;
    // Devices have no user scope: the token itself identifies the device.
    let mut tx = state.store.begin(Scope::All).await?;
    let device = devices::by_token(&mut tx, token)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown device token".into()))?;
    let device_key = DeviceId(device.id).key();
    let signer = state.signer.clone();
    let csr = body.into_inner().csr;
    let key = device_key.clone();
    let signed = web::block(move || signer.sign_device_csr(&csr, &key)).await?;
    let certificate = signed.map_err(|reason| {
        tracing::info!(device_id = %device.id, reason = %reason, "Certificate request refused.");
        ApiError::InvalidCsr(format!("the CSR was refused: {reason}"))
    })?;
    let details = json!({"device_key": device_key});
    audit::record(
        &mut tx,
        Some(device.tenant_id),
        None,
        "agent.certificate",
        "device",
        &device.id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    tracing::info!(device_id = %device.id, "Device certificate issued.");
    Ok(HttpResponse::Ok().json(CertificateIssued {
        certificate,
        ca_certificate: state.signer.ca_certificate_pem(),
        mqtt: state.mqtt.clone(),
    }))
}

/// `POST /api/agents/certificate` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateIssued {
    /// The device's client certificate (PEM).
    pub certificate: String,
    /// The engine's CA certificate (PEM), to trust the broker.
    pub ca_certificate: String,
    pub mqtt: MqttEndpoint,
}

/// `POST /api/agents/enroll` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrollment {
    pub device_id: Uuid,
    pub device_key: String,
    /// The device's token, shown this once.
    pub device_token: String,
    pub mqtt: MqttEndpoint,
    pub ws_url: String,
    pub intervals: AgentSettings,
    /// Ed25519 key (base64) that signs script commands.
    pub command_public_key: String,
}

/// `POST /api/agents/enroll` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EnrollBody {
    pub site_key: String,
    pub hostname: String,
    #[schema(value_type = Option<Object>)]
    pub hardware: Option<serde_json::Value>,
}

/// `POST /api/agents/enroll`: an agent trades its site's key for a device of that site. The
/// site key is a credential: unknown keys answer 404 and count towards a per-address limit
/// (429), like failed logins.
pub async fn enroll(
    req: HttpRequest,
    state: web::Data<ApiState>,
    body: web::Json<EnrollBody>,
) -> Result<HttpResponse, ApiError> {
    let peer = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    if state.guards.enroll_limited(&peer) {
        return Err(ApiError::RateLimited);
    }
    let hostname = crate::tenants::validate_name("hostname", &body.hostname)?;
    let mut tx = state.store.begin(Scope::All).await?;
    let Some(site) = centinela_storage::sites::by_site_key(&mut tx, body.site_key.trim()).await?
    else {
        state.guards.enroll_failed(&peer);
        return Err(ApiError::NotFound);
    };
    crate::devices::ensure_plan_room(&mut tx, site.tenant_id).await?;
    if centinela_storage::tenants::get(&mut tx, site.tenant_id)
        .await?
        .status
        == "suspended"
    {
        return Err(ApiError::TenantSuspended);
    }
    let (device, token) =
        devices::create(&mut tx, site.tenant_id, site.id, &hostname, "agent").await?;
    let heartbeat = i32::try_from(state.agents.heartbeat_s).unwrap_or(30);
    devices::set_heartbeat(&mut tx, device.id, heartbeat).await?;
    if let Some(hardware) = &body.hardware {
        devices::set_inventory(&mut tx, device.id, hardware, chrono::Utc::now()).await?;
    }
    let details = json!({"hostname": hostname, "site_id": site.id, "peer": peer});
    audit::record(
        &mut tx,
        Some(site.tenant_id),
        None,
        "agent.enroll",
        "device",
        &device.id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    if let Err(error) = state.runtime.register_device(device.id).await {
        tracing::warn!(device_id = %device.id, %error, "Device actor did not start; it will start on first contact.");
    }
    tracing::info!(tenant_id = %site.tenant_id, device_id = %device.id, "Agent enrolled.");
    let info = req.connection_info();
    let ws_scheme = if info.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    let ws_url = format!("{ws_scheme}://{}/ws/agent", info.host());
    Ok(HttpResponse::Created().json(Enrollment {
        device_id: device.id,
        device_key: device.device_key,
        device_token: token,
        mqtt: state.mqtt.clone(),
        ws_url,
        intervals: state.agents.clone(),
        command_public_key: state.command_signer.public_key_base64(),
    }))
}
