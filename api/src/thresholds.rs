//! `/api/thresholds`: rules with tenant → site → device scopes. Every change reloads the rules
//! of the tenant's device actors.

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::page::{self, Page, PageQuery};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::threshold::{Op, Rule, RuleError};
use centinela_model::{MetricName, TicketPriority};
use centinela_storage::thresholds::{self, Threshold, ThresholdInput};
use centinela_storage::{PgConnection, audit};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use uuid::Uuid;

/// `POST /api/thresholds` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewThresholdBody {
    pub scope: String,
    pub scope_id: Uuid,
    pub metric: String,
    pub op: String,
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    #[serde(default)]
    pub for_seconds: u32,
    pub clear_margin: Option<f64>,
    #[serde(default)]
    pub auto_ticket: bool,
    pub ticket_priority: Option<String>,
}

/// `PATCH /api/thresholds/{id}` body: absent fields keep their value, `null` clears a level.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PatchThresholdBody {
    pub op: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub warning: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub critical: Option<Option<f64>>,
    pub for_seconds: Option<u32>,
    pub clear_margin: Option<f64>,
    pub auto_ticket: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub ticket_priority: Option<Option<String>>,
}

/// Distinguishes a field given as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn rule_error(error: RuleError) -> ApiError {
    let field = match error {
        RuleError::NoLevel | RuleError::NotFinite => "warning",
        RuleError::NegativeMargin => "clear_margin",
    };
    ApiError::field(field, error.to_string())
}

/// Validates the rule fields of an input (op, levels, margin, priority).
fn validate_rule(input: &ThresholdInput) -> Result<(), ApiError> {
    let op = Op::parse(&input.op)
        .ok_or_else(|| ApiError::field("op", "op must be one of > >= < <= == !="))?;
    let for_seconds = u32::try_from(input.for_seconds)
        .map_err(|_| ApiError::field("for_seconds", "for_seconds is out of range"))?;
    Rule::new(
        op,
        input.warning,
        input.critical,
        for_seconds,
        input.clear_margin,
    )
    .map_err(rule_error)?;
    if let Some(priority) = &input.ticket_priority {
        priority
            .parse::<TicketPriority>()
            .map_err(|e| ApiError::field("ticket_priority", e.to_string()))?;
    }
    Ok(())
}

fn input_from(body: NewThresholdBody) -> Result<ThresholdInput, ApiError> {
    if !matches!(body.scope.as_str(), "tenant" | "site" | "device") {
        return Err(ApiError::field(
            "scope",
            "scope must be tenant, site or device",
        ));
    }
    let metric =
        MetricName::parse(&body.metric).map_err(|e| ApiError::field("metric", e.to_string()))?;
    let for_seconds = i32::try_from(body.for_seconds)
        .map_err(|_| ApiError::field("for_seconds", "for_seconds is out of range"))?;
    let input = ThresholdInput {
        tenant_id: Uuid::nil(),
        scope: body.scope,
        scope_id: body.scope_id,
        metric: metric.as_str().to_owned(),
        op: body.op,
        warning: body.warning,
        critical: body.critical,
        for_seconds,
        clear_margin: body.clear_margin.unwrap_or(0.0),
        auto_ticket: body.auto_ticket,
        ticket_priority: body.ticket_priority,
    };
    validate_rule(&input)?;
    Ok(input)
}

fn merged(current: &Threshold, body: PatchThresholdBody) -> Result<ThresholdInput, ApiError> {
    let for_seconds = match body.for_seconds {
        Some(s) => i32::try_from(s)
            .map_err(|_| ApiError::field("for_seconds", "for_seconds is out of range"))?,
        None => current.for_seconds,
    };
    let input = ThresholdInput {
        tenant_id: current.tenant_id,
        scope: current.scope.clone(),
        scope_id: current.scope_id,
        metric: current.metric.clone(),
        op: body.op.unwrap_or_else(|| current.op.clone()),
        warning: body.warning.unwrap_or(current.warning),
        critical: body.critical.unwrap_or(current.critical),
        for_seconds,
        clear_margin: body.clear_margin.unwrap_or(current.clear_margin),
        auto_ticket: body.auto_ticket.unwrap_or(current.auto_ticket),
        ticket_priority: body
            .ticket_priority
            .unwrap_or_else(|| current.ticket_priority.clone()),
    };
    validate_rule(&input)?;
    Ok(input)
}

/// Loads a threshold the caller may see (404 otherwise).
async fn visible_threshold(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<Threshold, ApiError> {
    let threshold = thresholds::get(conn, id).await?;
    caller.ensure_visible(threshold.tenant_id)?;
    Ok(threshold)
}

/// Pushes the tenant's new rules to its device actors; a failure is logged, not returned,
/// because the change itself is committed.
async fn reload(state: &ApiState, tenant: Uuid) {
    if let Err(error) = state.runtime.reload_rules(tenant).await {
        tracing::error!(tenant_id = %tenant, error = %error, "Reloading threshold rules failed.");
    }
}

async fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    t: &Threshold,
    action: &str,
) -> Result<(), ApiError> {
    let details = json!({"scope": t.scope, "scope_id": t.scope_id, "metric": t.metric});
    audit::record(
        conn,
        Some(t.tenant_id),
        Some(caller.user_id),
        action,
        "threshold",
        &t.id.to_string(),
        details,
    )
    .await?;
    Ok(())
}

/// `GET /api/thresholds`.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<PageQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    crate::requester::deny(&caller, "thresholds")?;
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let keyset = page.keyset();
    let all = thresholds::list_page(&mut tx, caller.tenant_filter(), &keyset).await?;
    commit(tx).await?;
    Ok(page::respond(
        &req,
        all,
        page.limit,
        thresholds::list_key,
        |t| caller.sees(t.tenant_id),
    ))
}

/// `POST /api/thresholds`.
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<NewThresholdBody>,
) -> Result<HttpResponse, ApiError> {
    let mut input = input_from(body.into_inner())?;
    let mut tx = state.store.begin(caller.scope()).await?;
    input.tenant_id = thresholds::scope_tenant(&mut tx, &input.scope, input.scope_id).await?;
    caller.ensure_can_write(&mut tx, input.tenant_id).await?;
    let threshold =
        thresholds::create(&mut tx, &input)
            .await
            .map_err(|e| match ApiError::from(e) {
                ApiError::Conflict(_) => {
                    ApiError::Conflict("a threshold for this scope and metric exists".into())
                }
                other => other,
            })?;
    record(&mut tx, &caller, &threshold, "threshold.create").await?;
    commit(tx).await?;
    reload(&state, threshold.tenant_id).await;
    Ok(HttpResponse::Created().json(threshold))
}

/// `PATCH /api/thresholds/{id}`.
pub async fn patch(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<PatchThresholdBody>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let current = visible_threshold(&mut tx, &caller, id.into_inner()).await?;
    caller.ensure_can_write(&mut tx, current.tenant_id).await?;
    let input = merged(&current, body.into_inner())?;
    let threshold = thresholds::update(&mut tx, current.id, &input).await?;
    record(&mut tx, &caller, &threshold, "threshold.update").await?;
    commit(tx).await?;
    reload(&state, threshold.tenant_id).await;
    Ok(HttpResponse::Ok().json(threshold))
}

/// `DELETE /api/thresholds/{id}`.
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let current = visible_threshold(&mut tx, &caller, id.into_inner()).await?;
    caller.ensure_can_write(&mut tx, current.tenant_id).await?;
    let threshold = thresholds::delete(&mut tx, current.id).await?;
    record(&mut tx, &caller, &threshold, "threshold.delete").await?;
    commit(tx).await?;
    reload(&state, threshold.tenant_id).await;
    Ok(HttpResponse::NoContent().finish())
}
