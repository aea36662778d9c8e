//! # centinela-storage
//!
//! The only crate with SQL. It owns `../migrations` and exposes typed functions over a
//! PostgreSQL pool (optionally with TimescaleDB).
//!
//! Tenant isolation: every function runs inside a transaction opened by [`Store::begin`] with
//! the caller's [`Scope`], which sets `centinela.scope` for that transaction only (the functional
//! form of `SET LOCAL`). Row-level security policies (migration `..._rls.sql`) read it, so a query
//! that forgets a `WHERE tenant_id` still cannot see another tenant's rows.
//!
//! Modules: [`tenants`], [`sites`], [`users`], [`devices`], [`thresholds`], [`alerts`],
//! [`tickets`] (with comments), [`ticket_categories`], [`assignment`] (who takes a new
//! ticket, technician lists), [`metrics`] (binary `COPY` encoder, queries, partitions and retention),
//! [`logs`], [`maintenance`] (maintenance windows), [`sla`] (policies, clocks' input, escalation
//! steps), [`dead_letters`] (what cannot be stored, with its reason, and the batch splitting
//! that finds it), [`audit`], [`pki`], [`routers`] (router connection settings, credentials sealed by
//! the caller), [`log_rules`] (per-tenant log heuristics settings), [`scripts`] (remote
//! scripts, approvals, runs, the command signing key), [`timescale`] (TimescaleDB or native
//! partitioning, decided before migrating), [`sessions`] (login sessions, refresh token
//! families), [`demo`] (demo-only: the seed marker, tenant profiles, seeded ticket stories).
//!
//! Depends on: `centinela-model`, sqlx. Must not depend on any other workspace crate.

/// `format!` for SQL built only from constants and generated identifiers (column lists,
/// partition names), never from input: values always go through bind parameters.
macro_rules! sqlf {
    ($($arg:tt)*) => { sqlx::AssertSqlSafe(format!($($arg)*)) };
}

pub mod alerts;
pub mod assignment;
pub mod audit;
pub mod dead_letters;
pub mod demo;
pub mod devices;
pub mod health;
pub mod log_rules;
pub mod logs;
pub mod maintenance;
pub mod metrics;
pub mod pki;
pub mod routers;
pub mod scripts;
pub mod sessions;
pub mod sites;
pub mod sla;
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
pub mod thresholds;
pub mod ticket_categories;
pub mod tickets;
pub mod timescale;
pub mod users;

use centinela_model::Scope;
pub use sqlx::PgConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Advisory lock key shared by running engines and taken exclusively by a master key rotation.
const ENGINE_LOCK: i64 = 0x63656E74_696E656C; // "centinel"

/// Held by a running engine (shared among engines) for its whole life: a master key rotation
/// refuses to run while any engine holds it. `None` when a rotation is running right now.
pub async fn hold_engine_lock(
    pool: &sqlx::PgPool,
) -> Result<Option<sqlx::pool::PoolConnection<Postgres>>> {
    let mut conn = pool.acquire().await?;
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock_shared($1)")
        .bind(ENGINE_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    Ok(locked.then_some(conn))
}

/// Inside a transaction: true when no engine is running (the lock is then held until commit).
pub async fn lock_out_engines(conn: &mut PgConnection) -> Result<bool> {
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
        .bind(ENGINE_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    Ok(locked)
}

/// One page of a list in keyset order: at most `limit` rows, starting after the sort key
/// `after` (the key of the previous page's last row; each list names its key type).
#[derive(Debug, Clone)]
pub struct Keyset<K> {
    pub limit: i64,
    pub after: Option<K>,
}

/// The sort key of lists ordered by name: name, then id.
pub type NameKey = (String, uuid::Uuid);

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("cannot move from '{from}' to '{to}'")]
    InvalidTransition { from: String, to: String },
}

impl StorageError {
    /// The database did not answer in time: a statement cancelled by `statement_timeout`
    /// (SQLSTATE 57014) or no pooled connection free within the acquire timeout.
    pub fn is_timeout(&self) -> bool {
        match self {
            StorageError::Database(sqlx::Error::PoolTimedOut) => true,
            StorageError::Database(sqlx::Error::Database(db)) => {
                db.code().as_deref() == Some("57014")
            }
            _ => false,
        }
    }

    /// Maps unique-violation errors to [`StorageError::Conflict`], foreign-key and check
    /// violations to [`StorageError::Invalid`].
    fn classify(error: sqlx::Error) -> StorageError {
        if let sqlx::Error::Database(db) = &error {
            match db.code().as_deref() {
                Some("23505") => return StorageError::Conflict(db.message().to_owned()),
                Some("23503") | Some("23514") => {
                    return StorageError::Invalid(db.message().to_owned());
                }
                _ => {}
            }
        }
        StorageError::Database(error)
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A transaction with the caller's scope set.
pub type ScopedTx = Transaction<'static, Postgres>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The database handle.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects a pool. `max_connections` bounds concurrent database work.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        let options = PgConnectOptions::from_str(url)?.application_name("centinela");
        Store::pool_with(options, max_connections).await
    }

    /// Connects a pool for request handlers: its own connections, so that API traffic never
    /// waits behind the engine's writes (nor the reverse), and a `statement_timeout` on every
    /// connection, so that no request holds a connection longer than `statement_timeout`.
    pub async fn connect_api(
        url: &str,
        max_connections: u32,
        statement_timeout: Duration,
    ) -> Result<Store> {
        let millis = statement_timeout.as_millis().max(1).to_string();
        let options = PgConnectOptions::from_str(url)?
            .application_name("centinela-api")
            .options([("statement_timeout", millis.as_str())]);
        // No ping before each acquire: under load every round trip waits its turn for a CPU,
        // and a request's latency is mostly round trips. A connection that died meanwhile fails
        // its request (503) and is dropped; the next one gets a fresh connection.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Store { pool })
    }

    async fn pool_with(options: PgConnectOptions, max_connections: u32) -> Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Store { pool })
    }

    /// Wraps an existing pool.
    pub fn from_pool(pool: PgPool) -> Store {
        Store { pool }
    }

    /// The pool, for the few places that need a raw connection (COPY).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations, with TimescaleDB when the server offers it
    /// ([`timescale::Mode::Auto`]).
    pub async fn migrate(&self) -> Result<()> {
        match self.migrate_with(timescale::Mode::Auto).await {
            Ok(_) => Ok(()),
            Err(timescale::TimescaleError::Storage(e)) => Err(e),
            Err(timescale::TimescaleError::Refused(why)) => Err(StorageError::Invalid(why)),
        }
    }

    /// Decides the metrics layout for `mode` (see [`timescale`]), then applies pending
    /// migrations.
    pub async fn migrate_with(
        &self,
        mode: timescale::Mode,
    ) -> std::result::Result<timescale::Decision, timescale::TimescaleError> {
        timescale::migrate(&self.pool, mode).await
    }

    /// Opens a transaction whose row-level security scope is `scope`: `centinela.scope` (`*` or
    /// the tenant) and, for a requester, `centinela.requester` (the user, whose `user_sites`
    /// the site-bound policies consult). Both are transaction-local (`set_config(.., true)`),
    /// so a pooled connection never carries one caller's scope into another's transaction.
    pub async fn begin(&self, scope: Scope) -> Result<ScopedTx> {
        // `'*'` or a tenant's UUID, and a user's UUID or nothing: formatted from typed values
        // only, never from input, so they can go into the statement text, and BEGIN and the
        // scope take one round trip instead of two.
        let tenant = scope.tenant().map_or_else(
            || "*".to_owned(),
            |tenant| tenant.0.hyphenated().to_string(),
        );
        let requester = scope
            .requester()
            .map(|user| user.hyphenated().to_string())
            .unwrap_or_default();
        let tx = self
            .pool
            .begin_with(sqlx::AssertSqlSafe(format!(
                "BEGIN; SELECT set_config('centinela.scope', '{tenant}', true), \
                 set_config('centinela.requester', '{requester}', true)"
            )))
            .await?;
        Ok(tx)
    }

    /// Changes the row-level security scope of an open transaction (as [`Store::begin`] sets
    /// it): one round trip where a commit and a new transaction would take two, for a request
    /// that checks in its caller's scope and then writes in the engine's.
    pub async fn rescope(conn: &mut PgConnection, scope: Scope) -> Result<()> {
        let tenant = scope
            .tenant()
            .map(|tenant| tenant.0.hyphenated().to_string());
        let requester = scope.requester().map(|user| user.hyphenated().to_string());
        sqlx::query(
            "SELECT set_config('centinela.scope', coalesce($1, '*'), true),
                    set_config('centinela.requester', coalesce($2, ''), true)",
        )
        .bind(tenant)
        .bind(requester)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Whether the connected role bypasses row-level security (superuser or BYPASSRLS). The
    /// engine warns when it does: isolation would then rest on the API's filters alone.
    pub async fn bypasses_rls(&self) -> Result<bool> {
        let row: (bool,) = sqlx::query_as(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.0)
    }

    /// Database reachable (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// SHA-256 of a secret token, as stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// A fresh 256-bit random secret as 64 hex digits (device tokens, site keys).
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}
