//! Users (argon2id hashes are made by the caller). Their sessions and refresh tokens are in
//! [`crate::sessions`].

use crate::{Result, StorageError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub tenant_id: Option<Uuid>,
    #[serde(skip)]
    pub password_hash: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, name, role, tenant_id, password_hash, active, created_at";

pub async fn create(
    conn: &mut PgConnection,
    email: &str,
    name: &str,
    role: &str,
    tenant_id: Option<Uuid>,
    password_hash: &str,
) -> Result<User> {
    sqlx::query_as(sqlf!(
        "INSERT INTO users (id, email, name, role, tenant_id, password_hash)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(name)
    .bind(role)
    .bind(tenant_id)
    .bind(password_hash)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

pub async fn by_email(conn: &mut PgConnection, email: &str) -> Result<Option<User>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1)"
    ))
    .bind(email)
    .fetch_optional(conn)
    .await?)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<User> {
    sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StorageError::NotFound)
}

pub async fn list(conn: &mut PgConnection, tenant: Option<Uuid>) -> Result<Vec<User>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM users WHERE ($1::uuid IS NULL OR tenant_id = $1) ORDER BY email"
    ))
    .bind(tenant)
    .fetch_all(conn)
    .await?)
}

/// The sites a requester belongs to (empty for other roles).
pub async fn site_ids(conn: &mut PgConnection, user_id: Uuid) -> Result<Vec<Uuid>> {
    let rows: Vec<(Uuid,)> =
        sqlx::query_as("SELECT site_id FROM user_sites WHERE user_id = $1 ORDER BY site_id")
            .bind(user_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Replaces the sites of a user. Every site must exist and belong to `tenant_id` (`Invalid`
/// otherwise, before anything is written): a requester never spans tenants.
pub async fn set_sites(
    conn: &mut PgConnection,
    user_id: Uuid,
    tenant_id: Uuid,
    site_ids: &[Uuid],
) -> Result<()> {
    let mut distinct = site_ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let found: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sites WHERE id = ANY($1) AND tenant_id = $2")
            .bind(&distinct)
            .bind(tenant_id)
            .fetch_one(&mut *conn)
            .await?;
    if found as usize != distinct.len() {
        return Err(StorageError::Invalid(
            "site_ids: every site must exist and belong to the user's tenant".into(),
        ));
    }
    sqlx::query("DELETE FROM user_sites WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO user_sites (user_id, site_id, tenant_id) SELECT $1, unnest($2::uuid[]), $3",
    )
    .bind(user_id)
    .bind(&distinct)
    .bind(tenant_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
