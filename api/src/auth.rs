//! `/api/auth/*`: login, refresh, logout and the current user.

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::passwords::{self, DUMMY_HASH};
use crate::state::ApiState;
use crate::tokens::{self, TokenType};
use actix_web::{HttpResponse, web};
use centinela_model::Scope;
use centinela_storage::users::{self, User};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /api/auth/login` body.
#[derive(Debug, Deserialize)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

/// `POST /api/auth/refresh` body.
#[derive(Debug, Deserialize)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// The user as the API shows it.
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub user: UserView,
}

/// Issues an access and a refresh token, recording the refresh token's id.
async fn issue_pair(state: &ApiState, user: &User) -> Result<TokenPair, ApiError> {
    let auth = &state.auth;
    let (access, _) = tokens::issue(auth, user.id, &user.role, user.tenant_id, TokenType::Access)?;
    let (refresh, claims) = tokens::issue(
        auth,
        user.id,
        &user.role,
        user.tenant_id,
        TokenType::Refresh,
    )?;
    let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)
        .ok_or_else(|| ApiError::Internal("refresh expiry out of range".into()))?;
    let mut tx = state.store.begin(Scope::All).await?;
    users::store_refresh_token(&mut tx, claims.jti, user.id, expires_at).await?;
    commit(tx).await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: auth.access_ttl.as_secs(),
        user: UserView::from(user),
    })
}

/// Checks a password off the async workers (argon2 is deliberately slow).
async fn password_matches(password: String, hash: String) -> Result<bool, ApiError> {
    Ok(web::block(move || passwords::verify_password(&password, &hash)).await?)
}

/// `POST /api/auth/login`.
pub async fn login(
    state: web::Data<ApiState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let LoginBody { email, password } = body.into_inner();
    passwords::check_not_limited(&email)?;
    // Staff have no tenant: the lookup runs unscoped.
    let mut tx = state.store.begin(Scope::All).await?;
    let user = users::by_email(&mut tx, &email).await?;
    commit(tx).await?;
    let hash = user
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let matches = password_matches(password, hash).await?;
    let user = match user {
        Some(user) if matches && user.active => user,
        _ => {
            passwords::record_failure(&email);
            tracing::info!(email = %email, "Login refused.");
            return Err(ApiError::InvalidCredentials);
        }
    };
    passwords::record_success(&email);
    tracing::info!(user_id = %user.id, role = %user.role, "User logged in.");
    Ok(HttpResponse::Ok().json(issue_pair(&state, &user).await?))
}

/// `POST /api/auth/refresh`: consumes a refresh token (single use) and issues a new pair.
pub async fn refresh(
    state: web::Data<ApiState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let claims = tokens::verify(&state.auth, &body.refresh_token, TokenType::Refresh)?;
    let mut tx = state.store.begin(Scope::All).await?;
    let consumed = users::consume_refresh_token(&mut tx, claims.jti).await?;
    let user = match consumed {
        Some(user_id) if user_id == claims.sub => users::get(&mut tx, user_id).await?,
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
    Ok(HttpResponse::Ok().json(issue_pair(&state, &user).await?))
}

/// `POST /api/auth/logout`: revokes every refresh token of the caller.
pub async fn logout(state: web::Data<ApiState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    users::revoke_refresh_tokens(&mut tx, caller.user_id).await?;
    commit(tx).await?;
    tracing::info!(user_id = %caller.user_id, "User logged out.");
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
