//! `/api/users`: who may read, create, change and delete which users, with one password
//! policy (`centinela_model::helpdesk::check_password`, the CLI's too).
//!
//! Rules (seed 000): a superadmin may do everything; only a superadmin creates or promotes
//! superadmins, and the last active superadmin cannot be deactivated, demoted or deleted (the
//! active superadmins are locked in the transaction, so two removals cannot both pass). An
//! admin manages every user but superadmins. A technician reads every user and creates and
//! edits requesters. A client_admin manages its tenant's client_admins and requesters. A
//! requester reads itself. No one changes their own role. Deactivating, deleting, a new role or
//! a new password end the user's sessions at once (a database trigger) and close its `/ws/noc`
//! sockets.

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::noc;
use crate::page::{self, Page};
use crate::passwords::hash_password;
use crate::state::ApiState;
use crate::tenants::validate_name;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::Role;
use centinela_model::helpdesk::{check_password, parse_email, parse_phone};
use centinela_storage::users::{self, NewUser, User, UserChange, UserFilter};
use centinela_storage::{PgConnection, audit};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// Sites one requester may belong to.
const MAX_SITES: usize = 100;
/// Longest search text.
const MAX_Q: usize = 100;

/// `POST /api/users` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub email: String,
    pub name: String,
    pub role: String,
    pub tenant_id: Option<Uuid>,
    pub site_ids: Option<Vec<Uuid>>,
    pub phone: Option<String>,
    pub password: String,
}

/// `PATCH /api/users/{id}` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUserBody {
    pub name: Option<String>,
    pub role: Option<String>,
    pub site_ids: Option<Vec<Uuid>>,
    pub phone: Option<String>,
    pub active: Option<bool>,
    pub password: Option<String>,
}

/// `GET /api/users` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    pub role: Option<String>,
    pub tenant_id: Option<Uuid>,
    pub active: Option<bool>,
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The answer of `POST /api/users`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    pub user: UserDetail,
}

/// A user as the users API shows it (never the password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserDetail {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub tenant_id: Option<Uuid>,
    pub phone: Option<String>,
    pub active: bool,
    /// A requester's sites (empty for other roles).
    pub site_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl UserDetail {
    fn new(user: User, site_ids: Vec<Uuid>) -> UserDetail {
        UserDetail {
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role,
            tenant_id: user.tenant_id,
            phone: user.phone,
            active: user.active,
            site_ids,
            created_at: user.created_at,
        }
    }
}

fn parse_role(word: &str) -> Result<Role, ApiError> {
    word.parse()
        .map_err(|_| ApiError::field("role", format!("unknown role '{word}'")))
}

/// Whether `caller` may see `target` (`role` and `tenant` of the target user).
fn may_read(caller: &Caller, target: Uuid, role: Role, tenant: Option<Uuid>) -> bool {
    match caller.role {
        Role::Superadmin | Role::Admin | Role::Technician => true,
        Role::ClientAdmin => {
            tenant.is_some() && tenant == caller.tenant_id.map(|t| t.0) && !role.is_staff()
        }
        Role::Requester => target == caller.user_id,
    }
}

/// Whether `caller` may create a user of `role`, or change a user that has (or would get)
/// `role` (visibility is checked apart).
pub fn may_manage(caller: Role, role: Role) -> bool {
    match caller {
        Role::Superadmin => true,
        Role::Admin => role != Role::Superadmin,
        Role::Technician => role == Role::Requester,
        Role::ClientAdmin => matches!(role, Role::ClientAdmin | Role::Requester),
        Role::Requester => false,
    }
}

fn forbidden(role: Role) -> ApiError {
    ApiError::Forbidden(format!("this role may not manage {role} users"))
}

fn validate_phone(phone: Option<&str>) -> Result<Option<String>, ApiError> {
    phone
        .map(|p| parse_phone(p).map_err(|e| ApiError::field("phone", e.to_string())))
        .transpose()
}

fn validate_password(password: &str) -> Result<(), ApiError> {
    check_password(password).map_err(|e| ApiError::field("password", e.to_string()))
}

fn validate_sites(site_ids: &[Uuid]) -> Result<(), ApiError> {
    if site_ids.len() > MAX_SITES {
        return Err(ApiError::field(
            "site_ids",
            format!("at most {MAX_SITES} sites"),
        ));
    }
    Ok(())
}

/// Hashes off the async workers (argon2id takes tens of milliseconds).
async fn hash(password: String) -> Result<String, ApiError> {
    web::block(move || hash_password(&password)).await?
}

/// Stores a requester's sites (`site_ids` required at creation and when the role becomes
/// requester: at least one, all of its tenant) or clears the sites of a user leaving that role
/// (other roles may not be given any).
async fn store_sites(
    conn: &mut PgConnection,
    user: &User,
    role: Role,
    site_ids: Option<&[Uuid]>,
    role_changed: bool,
) -> Result<Vec<Uuid>, ApiError> {
    let needs = || ApiError::field("site_ids", "a requester needs at least one site");
    if role != Role::Requester {
        if site_ids.is_some_and(|sites| !sites.is_empty()) {
            return Err(ApiError::field(
                "site_ids",
                "only requesters belong to sites",
            ));
        }
        if let (Some(tenant), true) = (user.tenant_id, role_changed) {
            users::set_sites(conn, user.id, tenant, &[]).await?;
        }
        return Ok(Vec::new());
    }
    let tenant = user
        .tenant_id
        .ok_or_else(|| ApiError::Internal("a requester without a tenant".into()))?;
    match site_ids {
        Some([]) => return Err(needs()),
        Some(sites) => {
            validate_sites(sites)?;
            users::set_sites(conn, user.id, tenant, sites)
                .await
                .map_err(|e| match ApiError::from(e) {
                    ApiError::BadRequest { message, .. } => ApiError::field("site_ids", message),
                    other => other,
                })?;
        }
        None if role_changed => return Err(needs()),
        None => {}
    }
    Ok(users::site_ids(conn, user.id).await?)
}

async fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    user: &User,
    action: &str,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        user.tenant_id,
        Some(caller.user_id),
        action,
        "user",
        &user.id.to_string(),
        details,
    )
    .await?;
    Ok(())
}

/// The tenant a new user belongs to: none for staff roles, the body's (or the caller's own)
/// for tenant roles.
fn new_user_tenant(
    caller: &Caller,
    role: Role,
    asked: Option<Uuid>,
) -> Result<Option<Uuid>, ApiError> {
    if role.is_staff() {
        return match asked {
            Some(_) => Err(ApiError::field(
                "tenant_id",
                "staff roles (superadmin, admin, technician) have no tenant",
            )),
            None => Ok(None),
        };
    }
    let tenant = asked
        .or(caller.tenant_id.map(|t| t.0))
        .ok_or_else(|| ApiError::field("tenant_id", "tenant roles need a tenant_id"))?;
    caller.ensure_visible(tenant)?;
    Ok(Some(tenant))
}

/// `POST /api/users` → 201 `{user}`.
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<NewUserBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let role = parse_role(&body.role)?;
    if !may_manage(caller.role, role) {
        return Err(forbidden(role));
    }
    // Stored lower-cased whole: the unique index compares lower(email), which the database
    // applies to ASCII only under the C locale; Rust lower-cases every letter (Ú, Ñ, ...).
    let email = parse_email(&body.email)
        .map_err(|e| ApiError::field("email", e.to_string()))?
        .to_lowercase();
    let name = validate_name("name", &body.name)?;
    let phone = validate_phone(body.phone.as_deref())?;
    validate_password(&body.password)?;
    let tenant = new_user_tenant(&caller, role, body.tenant_id)?;
    let password_hash = hash(body.password).await?;
    let mut tx = state.store.begin(caller.scope()).await?;
    if let Some(tenant) = tenant {
        caller.ensure_can_write(&mut tx, tenant).await?;
    }
    let new = NewUser {
        email,
        name,
        role: role.as_str().to_owned(),
        tenant_id: tenant,
        phone,
        password_hash,
    };
    let user = users::insert(&mut tx, &new)
        .await
        .map_err(|e| match ApiError::from(e) {
            ApiError::Conflict(_) => {
                ApiError::Conflict("a user with this email already exists".into())
            }
            ApiError::BadRequest { message, .. } => ApiError::field("tenant_id", message),
            other => other,
        })?;
    let sites = store_sites(&mut tx, &user, role, body.site_ids.as_deref(), true).await?;
    let details = json!({"email": user.email, "role": user.role, "site_ids": sites});
    record(&mut tx, &caller, &user, "user.create", details).await?;
    commit(tx).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "User created.");
    Ok(HttpResponse::Created().json(CreatedUser {
        user: UserDetail::new(user, sites),
    }))
}

/// Loads a user the caller may see (404 otherwise).
async fn visible_user(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<User, ApiError> {
    let user = users::get(conn, id).await?;
    let role = parse_role(&user.role)?;
    if !may_read(caller, user.id, role, user.tenant_id) {
        return Err(ApiError::NotFound);
    }
    Ok(user)
}

/// `GET /api/users/{id}`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let user = visible_user(&mut tx, &caller, id.into_inner()).await?;
    let sites = users::site_ids(&mut tx, user.id).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(UserDetail::new(user, sites)))
}

/// `GET /api/users?role=&tenant_id=&active=&q=&limit=&cursor=`, ordered by e-mail.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<UserQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let role = match query.role.as_deref() {
        None | Some("") => None,
        Some(word) => Some(parse_role(word)?.as_str().to_owned()),
    };
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_Q) {
        return Err(ApiError::field(
            "q",
            format!("q has at most {MAX_Q} characters"),
        ));
    }
    let crate::caller::ListTenant::Only(tenant) = caller.list_tenant(query.tenant_id) else {
        return Ok(HttpResponse::Ok().json(json!([])));
    };
    let filter = UserFilter {
        tenant_id: tenant,
        role,
        active: query.active,
        q: q.map(str::to_owned),
        only: (caller.role == Role::Requester).then_some(caller.user_id),
        roles: (caller.role == Role::ClientAdmin)
            .then(|| vec!["client_admin".to_owned(), "requester".to_owned()]),
        limit: page.fetch(),
        after: page.after.clone(),
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let fetched = users::list_page(&mut tx, &filter).await?;
    let shaped = page::shape(
        fetched,
        page.limit,
        |u| (u.email.to_lowercase(), u.id),
        |u| parse_role(&u.role).is_ok_and(|role| may_read(&caller, u.id, role, u.tenant_id)),
    );
    let ids: Vec<Uuid> = shaped.rows.iter().map(|u| u.id).collect();
    let mut sites: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (user, site) in users::sites_of(&mut tx, &ids).await? {
        sites.entry(user).or_default().push(site);
    }
    commit(tx).await?;
    let out: Vec<UserDetail> = shaped
        .rows
        .into_iter()
        .map(|u| {
            let own = sites.remove(&u.id).unwrap_or_default();
            UserDetail::new(u, own)
        })
        .collect();
    Ok(page::ok(&req, &out, shaped.next.as_deref()))
}

/// Refuses a change that would leave no active superadmin: `target` is losing the role or
/// its activity (or is deleted). Locks the active superadmins until the transaction ends.
async fn ensure_not_last_superadmin(conn: &mut PgConnection, target: Uuid) -> Result<(), ApiError> {
    let active = users::lock_active_superadmins(conn).await?;
    if active.iter().all(|id| *id == target) {
        return Err(ApiError::Conflict(
            "this is the last active superadmin; promote or activate another one first".into(),
        ));
    }
    Ok(())
}

/// Checks who may make a change: the caller manages the target's current role and its new
/// one, and never changes its own role. Returns the new role if any.
fn check_change(
    caller: &Caller,
    user: &User,
    current: Role,
    body: &PatchUserBody,
) -> Result<Option<Role>, ApiError> {
    if !may_manage(caller.role, current) {
        return Err(forbidden(current));
    }
    let Some(word) = body.role.as_deref() else {
        return Ok(None);
    };
    let next = parse_role(word)?;
    if next == current {
        return Ok(None);
    }
    if user.id == caller.user_id {
        return Err(ApiError::Forbidden("no one changes their own role".into()));
    }
    if !may_manage(caller.role, next) {
        return Err(forbidden(next));
    }
    if next.is_staff() != current.is_staff() {
        return Err(ApiError::field(
            "role",
            "a user cannot move between staff and tenant roles; create a new user",
        ));
    }
    Ok(Some(next))
}

/// Ends a user's live `/ws/noc` sockets at once (its sessions were ended by the trigger).
fn close_sockets(state: &ApiState, user: Uuid) {
    let closed = state.guards.noc.end_user(user, noc::session_ended());
    if closed > 0 {
        tracing::info!(user_id = %user, closed, "NOC sockets of a changed user closed.");
    }
}

/// `PATCH /api/users/{id}`.
pub async fn patch(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<PatchUserBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = body
        .name
        .as_deref()
        .map(|n| validate_name("name", n))
        .transpose()?;
    let phone = validate_phone(body.phone.as_deref())?;
    if let Some(password) = &body.password {
        validate_password(password)?;
    }
    let password_hash = match body.password.clone() {
        Some(password) => Some(hash(password).await?),
        None => None,
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let user = visible_user(&mut tx, &caller, id.into_inner()).await?;
    let current = parse_role(&user.role)?;
    let next = check_change(&caller, &user, current, &body)?;
    if let Some(tenant) = user.tenant_id {
        caller.ensure_can_write(&mut tx, tenant).await?;
    }
    let losing_superadmin = current == Role::Superadmin
        && user.active
        && (next.is_some() || body.active == Some(false));
    if losing_superadmin {
        ensure_not_last_superadmin(&mut tx, user.id).await?;
    }
    let change = UserChange {
        name,
        role: next.map(|r| r.as_str().to_owned()),
        phone,
        active: body.active,
        password_hash,
    };
    let updated = users::update(&mut tx, user.id, &change).await?;
    let role = next.unwrap_or(current);
    let sites = store_sites(
        &mut tx,
        &updated,
        role,
        body.site_ids.as_deref(),
        next.is_some(),
    )
    .await?;
    let details = json!({
        "name": change.name, "role": change.role, "phone": change.phone,
        "active": change.active, "site_ids": body.site_ids,
        "password_changed": change.password_hash.is_some(),
    });
    record(&mut tx, &caller, &updated, "user.update", details).await?;
    commit(tx).await?;
    let ends_sessions =
        next.is_some() || change.password_hash.is_some() || body.active == Some(false);
    if ends_sessions {
        close_sockets(&state, updated.id);
    }
    tracing::info!(user_id = %updated.id, "User updated.");
    Ok(HttpResponse::Ok().json(UserDetail::new(updated, sites)))
}

/// `DELETE /api/users/{id}` → 204.
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let user = visible_user(&mut tx, &caller, id.into_inner()).await?;
    let role = parse_role(&user.role)?;
    if !may_manage(caller.role, role) {
        return Err(forbidden(role));
    }
    if let Some(tenant) = user.tenant_id {
        caller.ensure_can_write(&mut tx, tenant).await?;
    }
    if role == Role::Superadmin && user.active {
        ensure_not_last_superadmin(&mut tx, user.id).await?;
    }
    users::delete(&mut tx, user.id).await?;
    let details = json!({"email": user.email, "role": user.role});
    record(&mut tx, &caller, &user, "user.delete", details).await?;
    commit(tx).await?;
    close_sockets(&state, user.id);
    tracing::info!(user_id = %user.id, "User deleted.");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn who_manages_whom() {
        for role in Role::ALL {
            assert!(may_manage(Superadmin, *role));
            assert_eq!(may_manage(Admin, *role), *role != Superadmin);
            assert_eq!(may_manage(Technician, *role), *role == Requester);
            assert_eq!(
                may_manage(ClientAdmin, *role),
                matches!(role, ClientAdmin | Requester)
            );
            assert!(!may_manage(Requester, *role));
        }
    }
}
