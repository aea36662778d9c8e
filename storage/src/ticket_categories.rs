//! Ticket categories: an MSP-wide default set (`tenant_id` NULL, created by a migration) that
//! every tenant sees, plus each tenant's own; one level of subcategories through `parent_id`.

use crate::{Result, StorageError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Category {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub requires_approval: bool,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, parent_id, name, requires_approval, created_at";

/// The sort key of [`list`]: defaults first, then by name.
pub type CategoryKey = (String, Uuid);

pub fn list_key(c: &Category) -> CategoryKey {
    (c.name.clone(), c.id)
}

/// Categories visible to the transaction's scope: the defaults and, with `tenant`, only that
/// tenant's own (staff without `tenant` see every tenant's).
pub async fn list(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    limit: i64,
    after: Option<CategoryKey>,
) -> Result<Vec<Category>> {
    let (name, id) = after.unzip();
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM ticket_categories
         WHERE ($1::uuid IS NULL OR tenant_id IS NULL OR tenant_id = $1)
           AND ($3::text IS NULL OR (name, id) > ($3, $4))
         ORDER BY name, id LIMIT $2"
    ))
    .bind(tenant)
    .bind(limit)
    .bind(name)
    .bind(id)
    .fetch_all(conn)
    .await?)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Category> {
    sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM ticket_categories WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

pub async fn create(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    parent: Option<Uuid>,
    name: &str,
    requires_approval: bool,
) -> Result<Category> {
    sqlx::query_as(sqlf!(
        "INSERT INTO ticket_categories (id, tenant_id, parent_id, name, requires_approval)
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(tenant)
    .bind(parent)
    .bind(name)
    .bind(requires_approval)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    name: Option<&str>,
    requires_approval: Option<bool>,
) -> Result<Category> {
    sqlx::query_as(sqlf!(
        "UPDATE ticket_categories SET name = coalesce($2, name),
             requires_approval = coalesce($3, requires_approval)
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(requires_approval)
    .fetch_optional(conn)
    .await
    .map_err(StorageError::classify)?
    .ok_or(StorageError::NotFound)
}

/// Deletes a category and its subcategories; tickets keep the category's name.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM ticket_categories WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}
