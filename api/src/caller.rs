//! The authenticated user of a request (`Authorization: Bearer <access JWT>`) and the access
//! rules every handler applies on top of row-level security.

use crate::error::ApiError;
use crate::state::ApiState;
use crate::tokens::{self, TokenType};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use centinela_model::{Role, Scope, TenantId};
use centinela_storage::{PgConnection, StorageError, sessions, tenants, users};
use std::future::Future;
use std::pin::Pin;
use uuid::Uuid;

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
    /// The login session the token belongs to (ended by logout).
    pub session_id: Uuid,
    /// When the access token expires, seconds since the epoch.
    pub expires_at: i64,
    /// A requester's sites (loaded on every request, like the session: a change of
    /// assignment takes effect at once); empty for every other role.
    pub site_ids: Vec<Uuid>,
}

impl Caller {
    /// Builds a caller from an access token: signature, expiry and type, then its session
    /// against storage. The session ends on logout and whenever the user is deactivated,
    /// deleted, or changes role, tenant or password (a trigger), so one primary-key lookup
    /// answers all of them — on every request, with no cache to outlive a deactivation.
    pub async fn authenticate(state: &ApiState, token: &str) -> Result<Caller, ApiError> {
        let caller = Caller::from_claims(state, token)?;
        let live = sessions::is_live(&state.store, caller.session_id, caller.user_id)
            .await
            .map_err(|e| ApiError::Internal(format!("session check failed: {e}")))?;
        if !live {
            state.runtime.telemetry().auth_refused("session_ended");
            return Err(ApiError::Unauthorized(
                "the session has ended; log in again".into(),
            ));
        }
        let mut caller = caller;
        if caller.role == Role::Requester {
            caller.site_ids = requester_sites(state, &caller).await?;
        }
        Ok(caller)
    }

    /// The caller a verified token describes (its session not checked yet).
    fn from_claims(state: &ApiState, token: &str) -> Result<Caller, ApiError> {
        let claims = tokens::verify(&state.auth, token, TokenType::Access)?;
        let role: Role = claims
            .role
            .parse()
            .map_err(|_| ApiError::Unauthorized("unknown role in token".into()))?;
        let tenant_id = claims.tenant_id.map(TenantId);
        if role.is_staff() != tenant_id.is_none() {
            return Err(ApiError::Unauthorized("inconsistent token".into()));
        }
        Ok(Caller {
            user_id: claims.sub,
            role,
            tenant_id,
            session_id: claims.sid,
            expires_at: claims.exp,
            site_ids: Vec::new(),
        })
    }

    /// The row-level security scope of this caller's transactions.
    pub fn scope(&self) -> Scope {
        match self.tenant_id {
            Some(tenant) if self.role == Role::Requester => Scope::Requester {
                tenant,
                user: self.user_id,
            },
            Some(tenant) if !self.role.is_staff() => Scope::Tenant(tenant),
            _ => Scope::All,
        }
    }

    /// Whether the caller may see objects of `site`: every role but a requester sees every
    /// site of the tenants it sees; a requester only its own sites. A site-less object (a
    /// tenant-wide one) is not visible to a requester.
    pub fn sees_site(&self, site: Option<Uuid>) -> bool {
        match self.role {
            Role::Requester => site.is_some_and(|site| self.site_ids.contains(&site)),
            _ => true,
        }
    }

    /// MSP staff (sees every tenant).
    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    /// The tenant filter of list queries: none for staff, the own tenant otherwise.
    pub fn tenant_filter(&self) -> Option<Uuid> {
        self.scope().tenant().map(|tenant| tenant.0)
    }

    /// The tenant a list query is restricted to, given the `tenant_id` the caller asked for.
    pub fn list_tenant(&self, asked: Option<Uuid>) -> ListTenant {
        match (self.tenant_filter(), asked) {
            (Some(own), Some(asked)) if own != asked => ListTenant::NotVisible,
            (Some(own), _) => ListTenant::Only(Some(own)),
            (None, asked) => ListTenant::Only(asked),
        }
    }

    /// Whether the caller may see rows of `tenant` (filters list results).
    pub fn sees(&self, tenant: Uuid) -> bool {
        self.scope().allows(TenantId(tenant))
    }

    /// 404 unless the caller may see rows of `tenant` (the API's second wall after RLS).
    pub fn ensure_visible(&self, tenant: Uuid) -> Result<(), ApiError> {
        if self.sees(tenant) {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// 403 unless the caller is a superadmin or an admin.
    pub fn ensure_msp_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Superadmin | Role::Admin => Ok(()),
            _ => Err(ApiError::Forbidden(
                "only superadmins and admins may do this".into(),
            )),
        }
    }

    /// Checks that the caller may write rows of `tenant`: visible, not a read-only role, and
    /// (for tenant roles) the tenant not suspended.
    pub async fn ensure_can_write(
        &self,
        conn: &mut PgConnection,
        tenant: Uuid,
    ) -> Result<(), ApiError> {
        self.ensure_visible(tenant)?;
        if self.role == Role::Requester {
            return Err(ApiError::Forbidden(
                "requesters have read-only access".into(),
            ));
        }
        if !self.is_staff() && tenants::get(conn, tenant).await?.status == "suspended" {
            return Err(ApiError::TenantSuspended);
        }
        Ok(())
    }
}

/// The bearer token of a request, if any.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

async fn extract(
    state: Option<web::Data<ApiState>>,
    token: Option<String>,
) -> Result<Caller, ApiError> {
    let state = state.ok_or_else(|| ApiError::Internal("ApiState is not registered".into()))?;
    let token =
        token.ok_or_else(|| ApiError::Unauthorized("a bearer access token is required".into()))?;
    Caller::authenticate(&state, &token).await
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<ApiState>>().cloned();
        let token = bearer_token(req).map(str::to_owned);
        Box::pin(extract(state, token))
    }
}

/// What a list query may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListTenant {
    /// Rows of this tenant, or of every visible tenant with `None`.
    Only(Option<Uuid>),
    /// The caller asked for a tenant it cannot see: the answer is an empty list, never an error
    /// that would reveal the tenant exists.
    NotVisible,
}

/// A requester's sites, read in its own scope (RLS passes only its tenant's rows).
async fn requester_sites(state: &ApiState, caller: &Caller) -> Result<Vec<Uuid>, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let sites = users::site_ids(&mut tx, caller.user_id).await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(sites)
}
