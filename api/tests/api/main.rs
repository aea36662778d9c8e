//! Integration tests of the API against a real PostgreSQL (one fresh database per test) and a
//! real runtime. Needs `CENTINELA_TEST_DATABASE_URL` (`eval "$(scripts/pg)"`).

mod agents_scripts;
mod auth;
mod helpers;
mod lists;
mod ops;
mod routers;
mod sessions;
mod tenancy;
mod thresholds_alerts;
mod tickets;
