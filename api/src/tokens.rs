//! JWTs (HS256): short-lived access tokens and single-use refresh tokens.

use crate::error::ApiError;
use crate::state::AuthConfig;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Access or refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of both token types.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The user's role word.
    pub role: String,
    /// The user's tenant (none for staff).
    pub tenant_id: Option<Uuid>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// `access` or `refresh`.
    pub typ: TokenType,
    /// Token id (the refresh token's row id).
    pub jti: Uuid,
    /// The login session (refresh token family) the token belongs to: checked on every
    /// request, so a logout ends its access tokens too.
    pub sid: Uuid,
}

/// Signs a token of `typ` for a user; returns it with its claims.
pub fn issue(
    auth: &AuthConfig,
    user_id: Uuid,
    role: &str,
    tenant_id: Option<Uuid>,
    session_id: Uuid,
    typ: TokenType,
) -> Result<(String, Claims), ApiError> {
    let ttl = match typ {
        TokenType::Access => auth.access_ttl,
        TokenType::Refresh => auth.refresh_ttl,
    };
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: user_id,
        role: role.to_owned(),
        tenant_id,
        exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        iat: now,
        typ,
        jti: Uuid::new_v4(),
        sid: session_id,
    };
    let token = sign(auth, &claims)?;
    Ok((token, claims))
}

/// Signs arbitrary claims.
pub fn sign(auth: &AuthConfig, claims: &Claims) -> Result<String, ApiError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(&auth.jwt_secret),
    )
    .map_err(|e| ApiError::Internal(format!("signing a token failed: {e}")))
}

/// Verifies a token's signature, expiry and type.
pub fn verify(auth: &AuthConfig, token: &str, typ: TokenType) -> Result<Claims, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(&auth.jwt_secret),
        &validation,
    )
    .map_err(|e| ApiError::Unauthorized(format!("invalid token: {e}")))?;
    if data.claims.typ != typ {
        return Err(ApiError::Unauthorized("wrong token type".into()));
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig::new(b"test secret of enough length, 32+ bytes".to_vec())
    }

    #[test]
    fn access_token_round_trips() {
        let auth = config();
        let user = Uuid::new_v4();
        let tenant = Some(Uuid::new_v4());
        let (token, issued) = issue(
            &auth,
            user,
            "client_admin",
            tenant,
            Uuid::new_v4(),
            TokenType::Access,
        )
        .unwrap();
        let claims = verify(&auth, &token, TokenType::Access).unwrap();
        assert_eq!(claims.sub, user);
        assert_eq!(claims.tenant_id, tenant);
        assert_eq!(claims.jti, issued.jti);
        assert_eq!(claims.sid, issued.sid);
        assert!(claims.exp - claims.iat == 15 * 60);
    }

    #[test]
    fn expired_wrong_type_and_foreign_tokens_are_refused() {
        let auth = config();
        let (_, mut claims) = issue(
            &auth,
            Uuid::new_v4(),
            "admin",
            None,
            Uuid::new_v4(),
            TokenType::Access,
        )
        .unwrap();
        claims.exp = Utc::now().timestamp() - 120;
        let expired = sign(&auth, &claims).unwrap();
        assert!(matches!(
            verify(&auth, &expired, TokenType::Access),
            Err(ApiError::Unauthorized(_))
        ));
        let (refresh, _) = issue(
            &auth,
            Uuid::new_v4(),
            "admin",
            None,
            Uuid::new_v4(),
            TokenType::Refresh,
        )
        .unwrap();
        assert!(verify(&auth, &refresh, TokenType::Access).is_err());
        let other = AuthConfig::new(b"another secret of enough length, 32+".to_vec());
        let (foreign, _) = issue(
            &other,
            Uuid::new_v4(),
            "admin",
            None,
            Uuid::new_v4(),
            TokenType::Access,
        )
        .unwrap();
        assert!(verify(&auth, &foreign, TokenType::Access).is_err());
        assert!(verify(&auth, "not.a.jwt", TokenType::Access).is_err());
    }
}
