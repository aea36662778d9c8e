//! `POST /api/agents/certificate`: an agent trades its device token and a CSR for a client
//! certificate of the engine's CA.

use crate::caller::bearer_token;
use crate::error::{ApiError, commit};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::{DeviceId, Scope};
use centinela_storage::{audit, devices};
use serde::Deserialize;
use serde_json::json;

/// Request body.
#[derive(Debug, Deserialize)]
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
    let mut tx = state.runtime.store().begin(Scope::All).await?;
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
    Ok(HttpResponse::Ok().json(json!({
        "certificate": certificate,
        "ca_certificate": state.signer.ca_certificate_pem(),
        "mqtt": state.mqtt,
    })))
}
