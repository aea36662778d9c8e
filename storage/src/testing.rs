//! Test support (feature `testing`): a fresh, migrated database per test on the cluster named by
//! `CENTINELA_TEST_DATABASE_URL` (or `DATABASE_URL`), which `scripts/pg` provides.

use crate::Store;
use sqlx::Connection;
use uuid::Uuid;

/// The admin URL of the test cluster.
pub fn cluster_url() -> String {
    std::env::var("CENTINELA_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .expect("set CENTINELA_TEST_DATABASE_URL (run the tests through scripts/test)")
}

/// Creates an empty database and returns its URL (not migrated).
pub async fn fresh_database_url() -> String {
    let admin = cluster_url();
    let name = format!("test_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test cluster");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    match admin.rfind('/') {
        Some(slash) => format!("{}/{name}", &admin[..slash]),
        None => panic!("database URL has no path: {admin}"),
    }
}

/// A fresh migrated database and its URL.
pub async fn fresh_store() -> (Store, String) {
    let url = fresh_database_url().await;
    let store = Store::connect(&url, 8)
        .await
        .expect("connect to test database");
    store.migrate().await.expect("migrate test database");
    (store, url)
}
