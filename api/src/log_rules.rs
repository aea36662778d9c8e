//! `/api/log-rules`: the per-tenant settings of the router log heuristics (brute force, WAN
//! instability, link down). A kind never configured uses its built-in default; changes reach the
//! tenant's device actors at once.

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::sites::target_tenant;
use crate::state::ApiState;
use actix_web::{HttpResponse, web};
use centinela_model::Severity;
use centinela_model::log_rules::{LogRule, LogRuleKind, effective_rules};
use centinela_storage::{audit, log_rules};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// `?tenant_id=` (staff must name the tenant; tenant roles use their own).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    pub tenant_id: Option<Uuid>,
}

/// `PUT /api/log-rules/{kind}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub tenant_id: Option<Uuid>,
    pub enabled: bool,
    pub threshold: u32,
    pub window_seconds: u32,
    pub severity: String,
    #[serde(default)]
    pub auto_ticket: bool,
}

fn kind(path: &str) -> Result<LogRuleKind, ApiError> {
    LogRuleKind::parse(path).ok_or_else(|| {
        ApiError::field(
            "kind",
            "kind must be brute_force, wan_instability or link_down",
        )
    })
}

/// `GET /api/log-rules?tenant_id=`: the effective rules, each marked `configured` or default.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<TenantQuery>,
) -> Result<HttpResponse, ApiError> {
    crate::requester::deny(&caller, "log rules")?;
    let tenant = target_tenant(&caller, query.tenant_id)?;
    caller.ensure_visible(tenant)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let configured = log_rules::for_tenant(&mut tx, tenant).await?;
    commit(tx).await?;
    let rules: Vec<_> = effective_rules(&configured)
        .into_iter()
        .map(|rule| {
            let is_configured = configured.iter().any(|c| c.kind == rule.kind);
            EffectiveRule {
                tenant_id: tenant,
                configured: is_configured,
                rule,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(rules))
}

/// `PUT /api/log-rules/{kind}`.
pub async fn put(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<RuleBody>,
) -> Result<HttpResponse, ApiError> {
    let kind = kind(&path)?;
    let tenant = target_tenant(&caller, body.tenant_id)?;
    let severity: Severity = body
        .severity
        .parse()
        .map_err(|_| ApiError::field("severity", "severity must be warning or critical"))?;
    let rule = LogRule {
        kind,
        enabled: body.enabled,
        threshold: body.threshold,
        window_seconds: body.window_seconds,
        severity,
        auto_ticket: body.auto_ticket,
    };
    rule.validate().map_err(|e| {
        let field = match e {
            centinela_model::log_rules::LogRuleError::Threshold => "threshold",
            centinela_model::log_rules::LogRuleError::Window => "window_seconds",
        };
        ApiError::field(field, e.to_string())
    })?;
    let mut tx = state.store.begin(caller.scope()).await?;
    caller.ensure_can_write(&mut tx, tenant).await?;
    log_rules::upsert(&mut tx, tenant, &rule).await?;
    let details = json!({ "rule": rule });
    audit::record(
        &mut tx,
        Some(tenant),
        Some(caller.user_id),
        "log_rule.set",
        "log_rule",
        kind.as_str(),
        details,
    )
    .await?;
    commit(tx).await?;
    reload(&state, tenant).await;
    Ok(HttpResponse::Ok().json(EffectiveRule {
        tenant_id: tenant,
        configured: true,
        rule,
    }))
}

/// A tenant's rule of one kind: configured, or the default.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EffectiveRule {
    pub tenant_id: Uuid,
    pub configured: bool,
    pub rule: LogRule,
}

/// `DELETE /api/log-rules/{kind}?tenant_id=`: back to the default.
pub async fn reset(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<TenantQuery>,
) -> Result<HttpResponse, ApiError> {
    let kind = kind(&path)?;
    let tenant = target_tenant(&caller, query.tenant_id)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    caller.ensure_can_write(&mut tx, tenant).await?;
    log_rules::reset(&mut tx, tenant, kind).await?;
    audit::record(
        &mut tx,
        Some(tenant),
        Some(caller.user_id),
        "log_rule.reset",
        "log_rule",
        kind.as_str(),
        json!({}),
    )
    .await?;
    commit(tx).await?;
    reload(&state, tenant).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn reload(state: &ApiState, tenant: Uuid) {
    if let Err(error) = state.runtime.reload_log_rules(tenant).await {
        tracing::error!(tenant_id = %tenant, %error, "Log rules saved but not reloaded; they apply after restart.");
    }
}
