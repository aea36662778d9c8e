//! `/api/auth/*`: login (limited per email and per client address, hashing in bounded slots),
//! refresh (rotation with reuse detection), logout (one session or all) and the current user.

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::noc;
use crate::passwords::DUMMY_HASH;
use crate::state::ApiState;
use crate::tokens::{self, TokenType};
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::Scope;
use centinela_storage::audit;
use centinela_storage::sessions::{self, Refresh};
use centinela_storage::users::{self, User};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// `POST /api/auth/login` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

/// `POST /api/auth/refresh` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// The user as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub tenant_id: Option<Uuid>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> UserView {
        UserView {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role.clone(),
            tenant_id: user.tenant_id,
        }
    }
}

/// A login or refresh answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    #[schema(value_type = String)]
    pub token_type: &'static str,
    pub expires_in: u64,
    pub user: UserView,
}

/// `POST /api/auth/logout` query: `all=true` ends every session of the user.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogoutQuery {
    #[serde(default)]
    pub all: bool,
}

/// Issues an access and a refresh token in a session (a new one at login), recording the
/// refresh token's id in its family.
async fn issue_pair(
    state: &ApiState,
    user: &User,
    session: Option<Uuid>,
) -> Result<TokenPair, ApiError> {
    let auth = &state.auth;
    let mut tx = state.store.begin(Scope::All).await?;
    let session_id = match session {
        Some(id) => id,
        None => sessions::start(&mut tx, user.id).await?,
    };
    let issue = |typ| tokens::issue(auth, user.id, &user.role, user.tenant_id, session_id, typ);
    let (access, _) = issue(TokenType::Access)?;
    let (refresh, claims) = issue(TokenType::Refresh)?;
    let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)
        .ok_or_else(|| ApiError::Internal("refresh expiry out of range".into()))?;
    sessions::store_refresh_token(&mut tx, claims.jti, user.id, session_id, expires_at).await?;
    commit(tx).await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: auth.access_ttl.as_secs(),
        user: UserView::from(user),
    })
}

/// The client address the per-address login limit counts: the TCP peer (a proxy's
/// `X-Forwarded-For` is the client's to forge, so it is not trusted).
fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

/// `POST /api/auth/login`.
pub async fn login(
    req: HttpRequest,
    state: web::Data<ApiState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let LoginBody { email, password } = body.into_inner();
    let address = client_address(&req);
    let telemetry = state.runtime.telemetry();
    state.guards.check_login(&email, &address, telemetry)?;
    // Staff have no tenant: the lookup runs unscoped.
    let mut tx = state.store.begin(Scope::All).await?;
    // Lower-cased here too: the database's lower() may leave non-ASCII letters as typed.
    let user = users::by_email(&mut tx, &email.to_lowercase()).await?;
    commit(tx).await?;
    let hash = user
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let matches = state
        .guards
        .verify_password(password, hash, telemetry)
        .await?;
    let user = match user {
        Some(user) if matches && user.active => user,
        other => {
            state.guards.login_failed(&email, &address);
            tracing::info!(email = %email, %address, "Login refused.");
            audit_login(&state, other.as_ref(), &email, &address, false).await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    state.guards.login_succeeded(&email);
    audit_login(&state, Some(&user), &email, &address, true).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "User logged in.");
    Ok(HttpResponse::Ok().json(issue_pair(&state, &user, None).await?))
}

/// Longest e-mail text kept in a failed login's audit entry (what was typed, bounded).
const AUDIT_EMAIL_MAX: usize = 254;

/// Records a login (`auth.login`) or a failed one (`auth.login_failed`, with the known user if
/// the e-mail matched one). Attempts refused by the limiter (429) are not recorded: the limiter
/// is what bounds this table's growth under a password spray.
async fn audit_login(
    state: &ApiState,
    user: Option<&User>,
    email: &str,
    address: &str,
    succeeded: bool,
) -> Result<(), ApiError> {
    let typed: String = email.chars().take(AUDIT_EMAIL_MAX).collect();
    let (action, details) = if succeeded {
        ("auth.login", json!({"address": address}))
    } else {
        (
            "auth.login_failed",
            json!({"email": typed, "address": address}),
        )
    };
    let mut tx = state.store.begin(Scope::All).await?;
    audit::record(
        &mut tx,
        user.and_then(|u| u.tenant_id),
        user.map(|u| u.id),
        action,
        "user",
        &user.map(|u| u.id.to_string()).unwrap_or_default(),
        details,
    )
    .await?;
    commit(tx).await
}

/// `POST /api/auth/refresh`: consumes a refresh token (single use) and issues a new pair in
/// the same session. A token presented twice ends its session (the whole family and its NOC
/// sockets): one of the two holders is not its owner.
pub async fn refresh(
    state: web::Data<ApiState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let claims = tokens::verify(&state.auth, &body.refresh_token, TokenType::Refresh)?;
    let mut tx = state.store.begin(Scope::All).await?;
    let outcome = sessions::consume_refresh_token(&mut tx, claims.jti).await?;
    let (user, session_id) = match outcome {
        Refresh::Rotated {
            user_id,
            session_id,
        } if user_id == claims.sub => (users::get(&mut tx, user_id).await?, session_id),
        Refresh::Reused {
            user_id,
            session_id,
        } => {
            commit(tx).await?;
            state.runtime.telemetry().auth_refused("refresh_reuse");
            state
                .guards
                .noc
                .end_session(session_id, noc::session_ended());
            tracing::warn!(%user_id, %session_id, "A rotated refresh token was used again; its session is ended.");
            return Err(ApiError::Unauthorized(
                "refresh token already used: the session has been ended".into(),
            ));
        }
        _ => {
            return Err(ApiError::Unauthorized(
                "refresh token revoked or unknown".into(),
            ));
        }
    };
    commit(tx).await?;
    if !user.active {
        return Err(ApiError::Unauthorized("the account is disabled".into()));
    }
    Ok(HttpResponse::Ok().json(issue_pair(&state, &user, Some(session_id)).await?))
}

/// `POST /api/auth/logout[?all=true]`: ends the caller's session — its refresh tokens, its
/// access tokens and its NOC sockets — or, with `all=true`, every session of the user.
pub async fn logout(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<LogoutQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(Scope::All).await?;
    if query.all {
        sessions::end_all(&mut tx, caller.user_id).await?;
    } else {
        sessions::end(&mut tx, caller.session_id).await?;
    }
    commit(tx).await?;
    let closed = if query.all {
        state
            .guards
            .noc
            .end_user(caller.user_id, noc::session_ended())
    } else {
        state
            .guards
            .noc
            .end_session(caller.session_id, noc::session_ended())
    };
    tracing::info!(user_id = %caller.user_id, all = query.all, noc_sessions_closed = closed, "User logged out.");
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/auth/me`.
pub async fn me(state: web::Data<ApiState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let user = users::get(&mut tx, caller.user_id).await?;
    commit(tx).await?;
    if !user.active {
        return Err(ApiError::Unauthorized("the account is disabled".into()));
    }
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}
