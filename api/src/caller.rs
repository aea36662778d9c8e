//! The authenticated user of a request (`Authorization: Bearer <access JWT>`) and the access
//! rules every handler applies on top of row-level security.

use crate::error::ApiError;
use crate::state::ApiState;
use crate::tokens::{self, TokenType};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use centinela_model::{Role, Scope, TenantId};
use centinela_storage::{PgConnection, tenants};
use std::future::{Ready, ready};
use uuid::Uuid;

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
}

impl Caller {
    /// Builds a caller from a verified access token.
    pub fn from_access_token(state: &ApiState, token: &str) -> Result<Caller, ApiError> {
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
        })
    }

    /// The row-level security scope of this caller's transactions.
    pub fn scope(&self) -> Scope {
        match self.tenant_id {
            Some(tenant) if !self.role.is_staff() => Scope::Tenant(tenant),
            _ => Scope::All,
        }
    }

    /// MSP staff (sees every tenant).
    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    /// The tenant filter of list queries: none for staff, the own tenant otherwise.
    pub fn tenant_filter(&self) -> Option<Uuid> {
        match self.scope() {
            Scope::All => None,
            Scope::Tenant(tenant) => Some(tenant.0),
        }
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

fn extract(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<ApiState>>()
        .ok_or_else(|| ApiError::Internal("ApiState is not registered".into()))?;
    let token = bearer_token(req)
        .ok_or_else(|| ApiError::Unauthorized("a bearer access token is required".into()))?;
    Caller::from_access_token(state, token)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(extract(req))
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
