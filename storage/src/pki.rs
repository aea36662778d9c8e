//! Persistence of the engine's certificate authority (certificate in clear, key sealed).

use crate::Result;
use sqlx::PgPool;

/// Loads the stored CA: `(cert_pem, sealed_key)`.
pub async fn load(pool: &PgPool) -> Result<Option<(String, Vec<u8>)>> {
    Ok(
        sqlx::query_as("SELECT cert_pem, sealed_key FROM pki WHERE id = 1")
            .fetch_optional(pool)
            .await?,
    )
}

/// Stores the CA unless one exists; returns what is stored afterwards (so two engines starting
/// at once agree on one CA).
pub async fn store_if_absent(
    pool: &PgPool,
    cert_pem: &str,
    sealed_key: &[u8],
) -> Result<(String, Vec<u8>)> {
    sqlx::query(
        "INSERT INTO pki (id, cert_pem, sealed_key) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(cert_pem)
    .bind(sealed_key)
    .execute(pool)
    .await?;
    Ok(
        sqlx::query_as("SELECT cert_pem, sealed_key FROM pki WHERE id = 1")
            .fetch_one(pool)
            .await?,
    )
}

/// Loads the stored CA inside a transaction, locking it (master key rotation).
pub async fn load_for_update(conn: &mut sqlx::PgConnection) -> Result<Option<(String, Vec<u8>)>> {
    Ok(
        sqlx::query_as("SELECT cert_pem, sealed_key FROM pki WHERE id = 1 FOR UPDATE")
            .fetch_optional(conn)
            .await?,
    )
}

/// Replaces the sealed key (master key rotation).
pub async fn reseal(conn: &mut sqlx::PgConnection, sealed_key: &[u8]) -> Result<()> {
    sqlx::query("UPDATE pki SET sealed_key = $1 WHERE id = 1")
        .bind(sealed_key)
        .execute(conn)
        .await?;
    Ok(())
}
