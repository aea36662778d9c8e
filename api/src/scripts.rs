//! `/api/scripts` and `/api/script-runs`: remote scripts stored server-side, approved by an MSP
//! admin before they can run (who and when is kept; any change of what runs withdraws the
//! approval), and runs requested on a device. A run becomes a command signed with the engine's
//! Ed25519 key — `{"payload": "<json>", "signature": "<base64>"}` — handed to every transport
//! (MQTT `/tenants/{device_key}/commands`, `/ws/agent`); the agent's result lands on the run.
//! Every request and result is in the audit log.

use crate::caller::Caller;
use crate::devices::visible_device;
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::requester::{DeviceScope, ensure_device_visible};
use crate::state::ApiState;
use crate::tenants::validate_name;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use centinela_model::{DeviceId, Role};
use centinela_storage::scripts::{self, NewScript, Script};
use centinela_storage::{PgConnection, audit};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

const INTERPRETERS: &[&str] = &["powershell", "bash", "sh", "python"];
const MAX_BODY: usize = 65_536;

/// `POST /api/scripts` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScriptBody {
    /// Absent: a global script of the MSP.
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub interpreter: String,
    pub body: String,
    pub timeout_s: Option<u32>,
}

/// `PATCH /api/scripts/{id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchScriptBody {
    pub name: Option<String>,
    pub interpreter: Option<String>,
    pub body: Option<String>,
    pub timeout_s: Option<u32>,
}

/// `POST /api/scripts/{id}/run` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    pub device_id: Uuid,
}

/// `GET /api/scripts` and `/api/script-runs` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub tenant_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn ensure_staff(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_staff() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only MSP staff manage scripts".into()))
    }
}

fn validate_interpreter(word: &str) -> Result<String, ApiError> {
    INTERPRETERS
        .iter()
        .find(|i| **i == word)
        .map(|i| (*i).to_owned())
        .ok_or_else(|| {
            ApiError::field(
                "interpreter",
                "interpreter must be powershell, bash, sh or python",
            )
        })
}

fn validate_body(body: &str) -> Result<String, ApiError> {
    if body.trim().is_empty() || body.len() > MAX_BODY || body.contains('\0') {
        return Err(ApiError::field(
            "body",
            format!("body must be 1–{MAX_BODY} bytes of text"),
        ));
    }
    Ok(body.to_owned())
}

fn validate_timeout(t: u32) -> Result<i32, ApiError> {
    if (1..=3600).contains(&t) {
        Ok(t as i32)
    } else {
        Err(ApiError::field("timeout_s", "timeout_s must be 1–3600"))
    }
}

/// A script the caller may see (its tenant's or global).
async fn visible_script(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<Script, ApiError> {
    let script = scripts::get(conn, id).await?;
    if let Some(tenant) = script.tenant_id {
        caller.ensure_visible(tenant)?;
    }
    Ok(script)
}

async fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    tenant: Option<Uuid>,
    action: &str,
    target: &str,
    id: Uuid,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        tenant,
        Some(caller.user_id),
        action,
        target,
        &id.to_string(),
        details,
    )
    .await?;
    Ok(())
}

/// Scripts as a caller may see them: tenant roles get everything but the body (MSP scripts
/// can embed operational details; running one does not require reading it).
fn view(script: &Script, caller: &Caller) -> serde_json::Value {
    let mut value = serde_json::to_value(script).unwrap_or_default();
    if !caller.is_staff()
        && let Some(map) = value.as_object_mut()
    {
        map.remove("body");
    }
    value
}

/// `GET /api/scripts?tenant_id=`.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<ListQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let tenant = caller.tenant_filter().or(query.tenant_id);
    let mut tx = state.store.begin(caller.scope()).await?;
    let keyset = page.keyset();
    let fetched = scripts::list(&mut tx, tenant, &keyset).await?;
    commit(tx).await?;
    let all = page::shape(fetched, page.limit, |s| (s.name.clone(), s.id), |_| true);
    let views: Vec<_> = all.rows.iter().map(|s| view(s, &caller)).collect();
    Ok(page::ok(&req, &views, all.next.as_deref()))
}

/// `GET /api/scripts/{id}`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let script = visible_script(&mut tx, &caller, id.into_inner()).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(view(&script, &caller)))
}

/// `POST /api/scripts` (staff): stored unapproved.
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<NewScriptBody>,
) -> Result<HttpResponse, ApiError> {
    ensure_staff(&caller)?;
    let body = body.into_inner();
    let new = NewScript {
        tenant_id: body.tenant_id,
        name: validate_name("name", &body.name)?,
        interpreter: validate_interpreter(&body.interpreter)?,
        body: validate_body(&body.body)?,
        timeout_s: validate_timeout(body.timeout_s.unwrap_or(60))?,
        created_by: Some(caller.user_id),
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    if let Some(tenant) = new.tenant_id {
        caller.ensure_can_write(&mut tx, tenant).await?;
    }
    let script = scripts::create(&mut tx, &new).await?;
    let details = json!({"name": script.name, "interpreter": script.interpreter});
    record(
        &mut tx,
        &caller,
        script.tenant_id,
        "script.create",
        "script",
        script.id,
        details,
    )
    .await?;
    commit(tx).await?;
    Ok(HttpResponse::Created().json(script))
}

/// `PATCH /api/scripts/{id}` (staff): a change of interpreter, body or timeout withdraws the
/// approval.
pub async fn patch(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<PatchScriptBody>,
) -> Result<HttpResponse, ApiError> {
    ensure_staff(&caller)?;
    let name = body
        .name
        .as_deref()
        .map(|n| validate_name("name", n))
        .transpose()?;
    let interpreter = body
        .interpreter
        .as_deref()
        .map(validate_interpreter)
        .transpose()?;
    let text = body.body.as_deref().map(validate_body).transpose()?;
    let timeout = body.timeout_s.map(validate_timeout).transpose()?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let script = visible_script(&mut tx, &caller, id.into_inner()).await?;
    let updated = scripts::update(
        &mut tx,
        script.id,
        name.as_deref(),
        interpreter.as_deref(),
        text.as_deref(),
        timeout,
    )
    .await?;
    let details = json!({"approval_withdrawn": script.approved_at.is_some() && updated.approved_at.is_none()});
    record(
        &mut tx,
        &caller,
        script.tenant_id,
        "script.update",
        "script",
        script.id,
        details,
    )
    .await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(updated))
}

/// `DELETE /api/scripts/{id}` (MSP admins).
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let script = visible_script(&mut tx, &caller, id.into_inner()).await?;
    scripts::delete(&mut tx, script.id).await?;
    record(
        &mut tx,
        &caller,
        script.tenant_id,
        "script.delete",
        "script",
        script.id,
        json!({"name": script.name}),
    )
    .await?;
    commit(tx).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/scripts/{id}/approve` body: the `updated_at` of the version the admin reviewed.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    pub updated_at: Option<chrono::DateTime<Utc>>,
}

/// `POST /api/scripts/{id}/approve {updated_at}` (MSP admins): records who approved and when.
/// `updated_at` (what the admin reviewed) is required: without it → 400 naming the field; a
/// script changed in the meantime → 409, instead of approving a body nobody read.
pub async fn approve(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Option<web::Json<ApproveBody>>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let seen = body
        .and_then(|b| b.into_inner().updated_at)
        .ok_or_else(|| {
            ApiError::field(
                "updated_at",
                "updated_at of the version you reviewed is required",
            )
        })?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let script = visible_script(&mut tx, &caller, id.into_inner()).await?;
    let approved = scripts::approve(&mut tx, script.id, caller.user_id, Some(seen)).await?;
    record(
        &mut tx,
        &caller,
        script.tenant_id,
        "script.approve",
        "script",
        script.id,
        json!({"name": script.name}),
    )
    .await?;
    commit(tx).await?;
    tracing::info!(script_id = %script.id, user_id = %caller.user_id, "Script approved.");
    Ok(HttpResponse::Ok().json(approved))
}

/// `POST /api/scripts/{id}/run {device_id}` → 202 `{run, delivered_via}`: a technician (staff)
/// or the device's client admin asks an agent to run an approved script.
pub async fn run(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<RunBody>,
) -> Result<HttpResponse, ApiError> {
    if !caller.is_staff() && caller.role != Role::ClientAdmin {
        return Err(ApiError::Forbidden(
            "only technicians and client admins run scripts".into(),
        ));
    }
    let mut tx = state.store.begin(caller.scope()).await?;
    let device = visible_device(&mut tx, &caller, body.device_id).await?;
    caller.ensure_can_write(&mut tx, device.tenant_id).await?;
    let script = visible_script(&mut tx, &caller, id.into_inner()).await?;
    if script.tenant_id.is_some_and(|t| t != device.tenant_id) {
        return Err(ApiError::NotFound);
    }
    if device.kind != "agent" {
        return Err(ApiError::field("device_id", "scripts run on agents only"));
    }
    let (Some(approved_by), Some(approved_at)) = (script.approved_by, script.approved_at) else {
        return Err(ApiError::Conflict(
            "the script is not approved; an MSP admin must approve it first".into(),
        ));
    };
    let now = Utc::now();
    let expires_at = now
        + chrono::Duration::from_std(state.agents.command_ttl)
            .unwrap_or_else(|_| chrono::Duration::minutes(10));
    let command_id = Uuid::new_v4();
    let run = scripts::create_run(
        &mut tx,
        command_id,
        (device.id, device.tenant_id),
        &script,
        caller.user_id,
        expires_at,
    )
    .await?;
    let details =
        json!({"script_id": script.id, "script_name": script.name, "device_id": device.id});
    record(
        &mut tx,
        &caller,
        Some(device.tenant_id),
        "script.run",
        "script_run",
        run.id,
        details,
    )
    .await?;
    commit(tx).await?;
    let payload = json!({
        "command_id": command_id,
        "device_key": DeviceId(device.id).key(),
        "script": {"id": script.id, "name": script.name, "interpreter": script.interpreter,
                   "body": script.body, "timeout_s": script.timeout_s},
        "approved_by": approved_by,
        "approved_at": approved_at,
        "issued_at": now,
        "expires_at": expires_at,
    })
    .to_string();
    let signature = base64::engine::general_purpose::STANDARD
        .encode(state.command_signer.sign(payload.as_bytes()));
    let message = json!({"payload": payload, "signature": signature}).to_string();
    let delivered_via = state.runtime.send_command(DeviceId(device.id), &message);
    state
        .runtime
        .publish_run(&run, centinela_actors::ScriptRunEvent::Sent);
    tracing::info!(device_id = %device.id, script_id = %script.id, run_id = %run.id, delivered_via, "Script run requested.");
    Ok(HttpResponse::Accepted().json(RunRequested { run, delivered_via }))
}

/// `POST /api/scripts/{id}/run` answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RunRequested {
    pub run: scripts::ScriptRun,
    /// How many live channels of the agent the signed command was handed to (0: the agent
    /// is offline and the run will expire).
    pub delivered_via: usize,
}

/// `GET /api/script-runs?device_id=&limit=`.
pub async fn list_runs(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<ListQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let mut tx = state.store.begin(caller.scope()).await?;
    if let Some(device) = query.device_id {
        visible_device(&mut tx, &caller, device).await?;
    }
    let keyset = page.keyset();
    let runs = scripts::list_runs(&mut tx, query.device_id, &keyset).await?;
    let devices = DeviceScope::load(&mut tx, &caller).await?;
    commit(tx).await?;
    Ok(page::respond(
        &req,
        runs,
        page.limit,
        scripts::run_key,
        |r| caller.sees(r.tenant_id) && devices.sees(r.device_id),
    ))
}

/// `GET /api/script-runs/{id}`.
pub async fn get_run(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let run = scripts::get_run(&mut tx, id.into_inner()).await?;
    caller.ensure_visible(run.tenant_id)?;
    ensure_device_visible(&mut tx, &caller, run.device_id).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(run))
}
