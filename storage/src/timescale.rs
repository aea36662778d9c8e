//! Whether metrics live in a TimescaleDB hypertable or in natively partitioned tables, decided
//! before migrating (`storage.timescaledb`).
//!
//! Migration 3 (`..._metrics.sql`, merged, never edited) runs `CREATE EXTENSION IF NOT EXISTS
//! timescaledb` inside an exception block whenever `pg_available_extensions` lists it. When the
//! package is installed but not in `shared_preload_libraries`, that statement fails with FATAL
//! (`extension "timescaledb" must be preloaded`), which ends the connection: no exception block
//! catches it and the engine could not start at all. So the decision is taken first:
//!
//! - a `pg_extension` row (created by a DBA, the usual case for a non-superuser role) means
//!   TimescaleDB; otherwise the creation is tried on a throwaway connection (a FATAL ends only
//!   that one) and, when it succeeds, migration 3 finds the extension there and takes the
//!   hypertable path (`IF NOT EXISTS` makes its own attempt a no-op);
//! - when TimescaleDB is not used, migrations run on a connection where a temporary view named
//!   `pg_available_extensions` (temporary relations are looked up before `pg_catalog`) hides
//!   the extension, so migration 3 takes the native path without touching it.
//!
//! A database already migrated keeps its layout: a setting that contradicts it is refused.

use crate::metrics::{self, Layout};
use crate::{MIGRATOR, StorageError};
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// `storage.timescaledb`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// TimescaleDB when it exists in the database or can be created; native otherwise.
    #[default]
    Auto,
    /// TimescaleDB or refuse to start.
    Required,
    /// Native partitioning on any server.
    Off,
}

/// What was decided, and why (logged at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub layout: Layout,
    /// Why, in a sentence.
    pub reason: String,
    /// Set when TimescaleDB is installed but could not be used (`auto` fell back).
    pub warning: Option<String>,
}

/// Why migrating could not go ahead.
#[derive(Debug, thiserror::Error)]
pub enum TimescaleError {
    /// The setting contradicts the database (the engine exits with code 2).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sqlx::Error> for TimescaleError {
    fn from(e: sqlx::Error) -> Self {
        TimescaleError::Storage(StorageError::Database(e))
    }
}

/// What the server offers, seen from a throwaway connection.
enum Availability {
    /// A `pg_extension` row exists (or the probe just created it).
    Created,
    /// Not installed on the server.
    NotInstalled,
    /// Installed, but creating it failed (not preloaded, no permission): the reason.
    Unusable(String),
}

/// Decides the metrics layout for `mode`, then applies every pending migration accordingly.
pub async fn migrate(pool: &PgPool, mode: Mode) -> Result<Decision, TimescaleError> {
    let options = (*pool.connect_options()).clone();
    let decision = match existing_layout(pool).await? {
        Some(layout) => keep(layout, mode)?,
        None => decide(&options, mode).await?,
    };
    let mut conn = PgConnection::connect_with(&options).await?;
    if decision.layout == Layout::Partitioned {
        hide_timescaledb(&mut conn).await?;
    }
    let migrated = MIGRATOR.run(&mut conn).await;
    let _ = conn.close().await;
    migrated.map_err(StorageError::from)?;
    Ok(decision)
}

/// The layout of an already migrated database, if the metrics table exists.
async fn existing_layout(pool: &PgPool) -> Result<Option<Layout>, TimescaleError> {
    let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass('public.metrics') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(None);
    }
    Ok(Some(metrics::layout(pool).await?))
}

/// An existing database keeps its layout; a setting that contradicts it is refused.
fn keep(layout: Layout, mode: Mode) -> Result<Decision, TimescaleError> {
    match (layout, mode) {
        (Layout::Timescale, Mode::Off) => Err(TimescaleError::Refused(
            "storage.timescaledb = \"off\", but this database's metrics table is a TimescaleDB hypertable; set \"auto\" or \"required\", or use a database created without TimescaleDB".into(),
        )),
        (Layout::Partitioned, Mode::Required) => Err(TimescaleError::Refused(
            "storage.timescaledb = \"required\", but this database's metrics table was created with native partitioning (TimescaleDB was not used when it was migrated); set \"auto\" or \"off\", or start on a new database".into(),
        )),
        (Layout::Timescale, _) => Ok(Decision {
            layout,
            reason: "the metrics table is a TimescaleDB hypertable".into(),
            warning: None,
        }),
        (Layout::Partitioned, _) => Ok(Decision {
            layout,
            reason: "the metrics table uses native partitioning".into(),
            warning: None,
        }),
    }
}

/// A new database: TimescaleDB if `mode` allows it and the server offers it.
async fn decide(options: &PgConnectOptions, mode: Mode) -> Result<Decision, TimescaleError> {
    if mode == Mode::Off {
        return Ok(Decision {
            layout: Layout::Partitioned,
            reason: "storage.timescaledb = \"off\"".into(),
            warning: None,
        });
    }
    let native = |reason: String, warning: Option<String>| Decision {
        layout: Layout::Partitioned,
        reason,
        warning,
    };
    match probe(options).await? {
        Availability::Created => Ok(Decision {
            layout: Layout::Timescale,
            reason: "the timescaledb extension exists in the database".into(),
            warning: None,
        }),
        Availability::NotInstalled if mode == Mode::Required => Err(TimescaleError::Refused(
            "storage.timescaledb = \"required\", but the timescaledb extension is not installed on this PostgreSQL server".into(),
        )),
        Availability::NotInstalled => Ok(native(
            "the timescaledb extension is not installed on this server".into(),
            None,
        )),
        Availability::Unusable(why) if mode == Mode::Required => Err(TimescaleError::Refused(
            format!("storage.timescaledb = \"required\", but the timescaledb extension cannot be created: {why}"),
        )),
        Availability::Unusable(why) => Ok(native(
            "TimescaleDB is installed but cannot be used".into(),
            Some(format!("TimescaleDB is installed on the server but cannot be created in this database ({why}); metrics use native partitioning. To use it: add timescaledb to shared_preload_libraries, restart PostgreSQL, and have a superuser run CREATE EXTENSION timescaledb in this database before the engine's first start.")),
        )),
    }
}

/// Looks at the extension, and tries to create it, on a connection of its own: a FATAL
/// (installed but not preloaded) ends only that connection.
async fn probe(options: &PgConnectOptions) -> Result<Availability, TimescaleError> {
    let mut conn = PgConnection::connect_with(options).await?;
    let (created, available): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'),
                EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'timescaledb')",
    )
    .fetch_one(&mut conn)
    .await?;
    if created {
        let _ = conn.close().await;
        return Ok(Availability::Created);
    }
    if !available {
        let _ = conn.close().await;
        return Ok(Availability::NotInstalled);
    }
    match sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS timescaledb")
        .execute(&mut conn)
        .await
    {
        Ok(_) => {
            let _ = conn.close().await;
            Ok(Availability::Created)
        }
        // The connection may be gone (FATAL); it is dropped either way.
        Err(error) => Ok(Availability::Unusable(reason(&error))),
    }
}

/// The server's message for a failed `CREATE EXTENSION`.
fn reason(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// Makes migration 3 see no TimescaleDB on this connection: a temporary view shadows
/// `pg_catalog.pg_available_extensions` for unqualified names (PostgreSQL searches the session's
/// temporary schema first for relations), without the extension's row.
async fn hide_timescaledb(conn: &mut PgConnection) -> Result<(), TimescaleError> {
    sqlx::raw_sql(
        "CREATE TEMPORARY VIEW pg_available_extensions AS
         SELECT * FROM pg_catalog.pg_available_extensions WHERE name <> 'timescaledb'",
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_layout_is_kept_and_a_contradicting_setting_refused() {
        let cases = [
            (Layout::Timescale, Mode::Auto, Some(Layout::Timescale)),
            (Layout::Timescale, Mode::Required, Some(Layout::Timescale)),
            (Layout::Timescale, Mode::Off, None),
            (Layout::Partitioned, Mode::Auto, Some(Layout::Partitioned)),
            (Layout::Partitioned, Mode::Off, Some(Layout::Partitioned)),
            (Layout::Partitioned, Mode::Required, None),
        ];
        for (layout, mode, expected) in cases {
            match (keep(layout, mode), expected) {
                (Ok(decision), Some(expected)) => assert_eq!(decision.layout, expected),
                (Err(TimescaleError::Refused(why)), None) => {
                    assert!(why.starts_with("storage.timescaledb = "), "{why}")
                }
                (other, _) => panic!("{layout:?} with {mode:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_setting_reads_as_documented() {
        #[derive(Deserialize)]
        struct S {
            timescaledb: Mode,
        }
        for (text, mode) in [
            ("auto", Mode::Auto),
            ("required", Mode::Required),
            ("off", Mode::Off),
        ] {
            let s: S = serde_json::from_str(&format!("{{\"timescaledb\":\"{text}\"}}")).unwrap();
            assert_eq!(s.timescaledb, mode);
        }
        assert!(serde_json::from_str::<S>("{\"timescaledb\":\"on\"}").is_err());
    }

    /// What migration 3 reads (`pg_available_extensions`, unqualified) resolves to the view on
    /// the migration's connection, which lists every extension but TimescaleDB.
    #[tokio::test]
    async fn the_view_shadows_the_catalog_for_migration_3_on_its_connection_only() {
        let url = crate::testing::fresh_database_url().await;
        let mut conn = PgConnection::connect(&url).await.unwrap();
        hide_timescaledb(&mut conn).await.unwrap();
        let (schema, plpgsql): (String, bool) = sqlx::query_as(
            "SELECT (SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.oid = 'pg_available_extensions'::regclass),
                    EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'plpgsql')",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(schema.starts_with("pg_temp"), "resolved in {schema}");
        assert!(plpgsql, "other extensions stay listed");
        let mut other = PgConnection::connect(&url).await.unwrap();
        let (schema,): (String,) = sqlx::query_as(
            "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = 'pg_available_extensions'::regclass",
        )
        .fetch_one(&mut other)
        .await
        .unwrap();
        assert_eq!(schema, "pg_catalog");
    }
}
