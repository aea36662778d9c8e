//! The one place where failures become the contract's `{"error","message"}` bodies.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use centinela_storage::{ScopedTx, StorageError};
use serde_json::{Map, Value, json};

/// Every way an API request can fail, with its HTTP status and machine code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input; `field` names the offending field when there is one.
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    /// Login with an unknown email, a wrong password or an inactive account.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Missing, invalid or expired token.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Writes by tenant roles of a suspended tenant.
    #[error("the tenant is suspended: writes are disabled")]
    TenantSuspended,
    /// Not found, or not visible to the caller.
    #[error("not found")]
    NotFound,
    /// A duplicate or a concurrent change.
    #[error("{0}")]
    Conflict(String),
    /// The tenant's plan does not allow more devices.
    #[error("{message}")]
    PlanLimit {
        required_plan_hint: &'static str,
        message: String,
    },
    /// A lifecycle move that is not allowed.
    #[error("cannot move from '{from}' to '{to}'")]
    InvalidTransition { from: String, to: String },
    /// Too many failed attempts.
    #[error("too many failed attempts; try again later")]
    RateLimited,
    /// The certificate signing request could not be signed.
    #[error("{0}")]
    InvalidCsr(String),
    /// A dependency (database, broker) is down.
    #[error("{0}")]
    NotReady(String),
    /// A bounded resource (password hashing slots) stayed full: retry shortly.
    #[error("{0}")]
    Busy(String),
    /// Something unexpected; the details are logged, never sent.
    #[error("internal error")]
    Internal(String),
    /// No route has this path (under `/api`, `/ws` and the operations paths).
    #[error("no such route")]
    UnknownRoute,
    /// The path exists but not with this method; `allow` lists the methods it has.
    #[error("method not allowed; this path allows {allow}")]
    MethodNotAllowed { allow: String },
}

/// The contract's error body, as the OpenAPI document shows it (built by [`ApiError::body`]).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine code: `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `plan_limit`, `invalid_transition`, `rate_limited`, `method_not_allowed`, ...
    pub error: String,
    /// A sentence for people.
    pub message: String,
    /// On a 400: the offending field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// On a 422: the state the object is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// On a 422: the state asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// On a 402: always `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upsell: Option<bool>,
    /// On a 402: the plan that has room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_plan_hint: Option<String>,
}

impl ApiError {
    /// A 400 naming the offending field.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    /// A 400 without a field.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            message: message.into(),
            field: None,
        }
    }

    /// The contract's machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::TenantSuspended => "tenant_suspended",
            ApiError::NotFound => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PlanLimit { .. } => "plan_limit",
            ApiError::InvalidTransition { .. } => "invalid_transition",
            ApiError::RateLimited => "rate_limited",
            ApiError::InvalidCsr(_) => "invalid_csr",
            ApiError::NotReady(_) => "not_ready",
            ApiError::Busy(_) => "busy",
            ApiError::Internal(_) => "internal",
            ApiError::UnknownRoute => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), json!(self.code()));
        body.insert("message".into(), json!(self.to_string()));
        match self {
            ApiError::BadRequest {
                field: Some(field), ..
            } => {
                body.insert("field".into(), json!(field));
            }
            ApiError::PlanLimit {
                required_plan_hint, ..
            } => {
                body.insert("upsell".into(), json!(true));
                body.insert("required_plan_hint".into(), json!(required_plan_hint));
            }
            ApiError::InvalidTransition { from, to } => {
                body.insert("from".into(), json!(from));
                body.insert("to".into(), json!(to));
            }
            _ => {}
        }
        Value::Object(body)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } | ApiError::InvalidCsr(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidCredentials | ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::TenantSuspended => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::UnknownRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PlanLimit { .. } => StatusCode::PAYMENT_REQUIRED,
            ApiError::InvalidTransition { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotReady(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(detail) = self {
            tracing::error!(error = %detail, "Request failed with an internal error.");
        }
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Busy(_)) {
            response.insert_header((actix_web::http::header::RETRY_AFTER, "1"));
        }
        if let ApiError::MethodNotAllowed { allow } = self {
            response.insert_header((actix_web::http::header::ALLOW, allow.as_str()));
        }
        response.json(self.body())
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> ApiError {
        if error.is_timeout() {
            tracing::warn!(%error, "A request's database work timed out.");
            return ApiError::NotReady("the database did not answer in time; try again".into());
        }
        match error {
            StorageError::NotFound => ApiError::NotFound,
            StorageError::Conflict(message) => ApiError::Conflict(message),
            StorageError::Invalid(message) => ApiError::bad_request(message),
            StorageError::InvalidTransition { from, to } => {
                ApiError::InvalidTransition { from, to }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> ApiError {
        ApiError::Internal(error.to_string())
    }
}

/// Commits a scoped transaction, mapping a failure to a 500.
pub async fn commit(tx: ScopedTx) -> Result<(), ApiError> {
    tx.commit()
        .await
        .map_err(|e| ApiError::from(StorageError::from(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn rendered(error: ApiError) -> (u16, Value) {
        let response = error.error_response();
        let status = response.status().as_u16();
        let bytes = response.into_body().try_into_bytes().unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn storage_errors_map_to_contract_statuses() {
        let cases = [
            (StorageError::NotFound, 404, "not_found"),
            (StorageError::Conflict("dup".into()), 409, "conflict"),
            (StorageError::Invalid("bad".into()), 400, "bad_request"),
            (
                StorageError::InvalidTransition {
                    from: "a".into(),
                    to: "b".into(),
                },
                422,
                "invalid_transition",
            ),
            (
                StorageError::Database(sqlx::Error::PoolTimedOut),
                503,
                "not_ready",
            ),
            (
                StorageError::Database(sqlx::Error::RowNotFound),
                500,
                "internal",
            ),
        ];
        for (storage, status, code) in cases {
            let (got_status, body) = rendered(ApiError::from(storage));
            assert_eq!(got_status, status);
            assert_eq!(body["error"], code);
            assert!(body["message"].is_string());
        }
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let (status, body) = rendered(ApiError::Internal("password=secret".into()));
        assert_eq!(status, 500);
        assert!(!body.to_string().contains("secret"));
    }

    #[test]
    fn plan_limit_and_field_errors_carry_their_extras() {
        let (status, body) = rendered(ApiError::PlanLimit {
            required_plan_hint: "inter",
            message: "full".into(),
        });
        assert_eq!(status, 402);
        assert_eq!(body["upsell"], true);
        assert_eq!(body["required_plan_hint"], "inter");
        let (status, body) = rendered(ApiError::field("op", "unknown operator"));
        assert_eq!(status, 400);
        assert_eq!(body["field"], "op");
        assert_eq!(rendered(ApiError::RateLimited).0, 429);
        assert_eq!(
            rendered(ApiError::TenantSuspended).1["error"],
            "tenant_suspended"
        );
    }
}
