//! Login sessions (`auth_sessions`) and their refresh token families. A session ends on logout,
//! on the reuse of an already rotated refresh token, or when its user changes (a trigger: see
//! the `..._auth_sessions.sql` migration); access tokens of an ended session are refused.

use crate::{Result, Store};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Starts a session for a user (a login); returns its id.
pub async fn start(conn: &mut PgConnection, user_id: Uuid) -> Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO auth_sessions (id, user_id) VALUES ($1, $2)")
        .bind(id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(id)
}

/// Whether the session is live and belongs to the user: one primary-key lookup outside any
/// transaction (it runs on every authenticated request).
pub async fn is_live(store: &Store, session_id: Uuid, user_id: Uuid) -> Result<bool> {
    let row: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM auth_sessions WHERE id = $1 AND user_id = $2 AND ended_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(store.pool())
    .await?;
    Ok(row.is_some())
}

/// Records a refresh token of a session.
pub async fn store_refresh_token(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
    session_id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, user_id, session_id, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(user_id)
    .bind(session_id)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// What presenting a refresh token amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Valid and now consumed: issue the next pair in the same session.
    Rotated { user_id: Uuid, session_id: Uuid },
    /// Already consumed once while its session is live: a copy is in someone else's hands.
    /// The session has been ended.
    Reused { user_id: Uuid, session_id: Uuid },
    /// Unknown, expired, or of an ended session.
    Refused,
}

/// Consumes a refresh token (single use). A token presented a second time ends its session
/// and revokes the whole family: either the thief or the owner holds the rotated one, and
/// nobody can tell which.
pub async fn consume_refresh_token(conn: &mut PgConnection, id: Uuid) -> Result<Refresh> {
    let rotated: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE refresh_tokens r SET revoked_at = now()
         FROM auth_sessions s
         WHERE r.id = $1 AND r.revoked_at IS NULL AND r.expires_at > now()
           AND s.id = r.session_id AND s.ended_at IS NULL
         RETURNING r.user_id, r.session_id",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((user_id, session_id)) = rotated {
        return Ok(Refresh::Rotated {
            user_id,
            session_id,
        });
    }
    let reused: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT r.user_id, r.session_id FROM refresh_tokens r
         JOIN auth_sessions s ON s.id = r.session_id
         WHERE r.id = $1 AND r.revoked_at IS NOT NULL AND s.ended_at IS NULL",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match reused {
        Some((user_id, session_id)) => {
            end(conn, session_id).await?;
            Ok(Refresh::Reused {
                user_id,
                session_id,
            })
        }
        None => Ok(Refresh::Refused),
    }
}

/// Ends one session and revokes its refresh tokens.
pub async fn end(conn: &mut PgConnection, session_id: Uuid) -> Result<()> {
    sqlx::query("UPDATE auth_sessions SET ended_at = now() WHERE id = $1 AND ended_at IS NULL")
        .bind(session_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE session_id = $1 AND revoked_at IS NULL",
    )
    .bind(session_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends every session of a user and revokes all their refresh tokens.
pub async fn end_all(conn: &mut PgConnection, user_id: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE auth_sessions SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}
