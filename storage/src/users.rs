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
    pub phone: Option<String>,
    #[serde(skip)]
    pub password_hash: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, name, role, tenant_id, phone, password_hash, active, created_at";

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

/// A user to create through the API (the CLI uses [`create`]).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: String,
    pub tenant_id: Option<Uuid>,
    pub phone: Option<String>,
    pub password_hash: String,
}

/// Inserts a user; a duplicate e-mail (case-insensitive) is a `Conflict`.
pub async fn insert(conn: &mut PgConnection, new: &NewUser) -> Result<User> {
    sqlx::query_as(sqlf!(
        "INSERT INTO users (id, email, name, role, tenant_id, phone, password_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(&new.email)
    .bind(&new.name)
    .bind(&new.role)
    .bind(new.tenant_id)
    .bind(&new.phone)
    .bind(&new.password_hash)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

/// The sort key of the users list: the lower-cased e-mail, then the id.
pub type UserKey = (String, Uuid);

/// Filters and page of the users list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub tenant_id: Option<Uuid>,
    pub role: Option<String>,
    pub active: Option<bool>,
    /// Case-insensitive substring of the e-mail or the name.
    pub q: Option<String>,
    /// Only this user (a requester lists itself).
    pub only: Option<Uuid>,
    /// Only these roles (a client_admin lists its tenant's client_admins and requesters).
    pub roles: Option<Vec<String>>,
    pub limit: i64,
    pub after: Option<UserKey>,
}

/// One page of users ordered by e-mail.
pub async fn list_page(conn: &mut PgConnection, f: &UserFilter) -> Result<Vec<User>> {
    let (after_email, after_id) = f.after.clone().unzip();
    let pattern = f.q.as_deref().map(like_pattern);
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM users
         WHERE ($1::uuid IS NULL OR tenant_id = $1)
           AND ($2::text IS NULL OR role = $2)
           AND ($3::bool IS NULL OR active = $3)
           AND ($4::text IS NULL OR email ILIKE $4 OR name ILIKE $4)
           AND ($5::uuid IS NULL OR id = $5)
           AND ($6::text[] IS NULL OR role = ANY($6))
           AND ($7::text IS NULL OR (lower(email), id) > ($7, $8))
         ORDER BY lower(email), id LIMIT $9"
    ))
    .bind(f.tenant_id)
    .bind(&f.role)
    .bind(f.active)
    .bind(pattern)
    .bind(f.only)
    .bind(&f.roles)
    .bind(after_email)
    .bind(after_id)
    .bind(f.limit)
    .fetch_all(conn)
    .await?)
}

/// `%text%` with the LIKE wildcards of `text` escaped (a search is literal).
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The sites of several users, as (user, site) pairs.
pub async fn sites_of(conn: &mut PgConnection, user_ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
    Ok(sqlx::query_as(
        "SELECT user_id, site_id FROM user_sites WHERE user_id = ANY($1) ORDER BY user_id, site_id",
    )
    .bind(user_ids)
    .fetch_all(conn)
    .await?)
}

/// A change to a user; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub name: Option<String>,
    pub role: Option<String>,
    pub phone: Option<String>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
}

/// Applies a change (the sessions trigger ends the user's sessions when it deactivates it or
/// changes its role or password).
pub async fn update(conn: &mut PgConnection, id: Uuid, c: &UserChange) -> Result<User> {
    sqlx::query_as(sqlf!(
        "UPDATE users SET name = coalesce($2, name), role = coalesce($3, role),
                phone = coalesce($4, phone), active = coalesce($5, active),
                password_hash = coalesce($6, password_hash)
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&c.name)
    .bind(&c.role)
    .bind(&c.phone)
    .bind(c.active)
    .bind(&c.password_hash)
    .fetch_optional(conn)
    .await
    .map_err(StorageError::classify)?
    .ok_or(StorageError::NotFound)
}

/// Deletes a user (its sessions and refresh tokens go with it).
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// Locks every active superadmin row until the transaction ends and returns their ids. Two
/// transactions that each remove a different superadmin take turns here, and the second sees
/// the first one's change (READ COMMITTED re-checks a locked row), so "the last active
/// superadmin stays" holds under concurrency.
pub async fn lock_active_superadmins(conn: &mut PgConnection) -> Result<Vec<Uuid>> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM users WHERE role = 'superadmin' AND active ORDER BY id FOR UPDATE",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
