//! Integration tests of the API against a real PostgreSQL (one fresh database per test) and a
//! real runtime. Needs `CENTINELA_TEST_DATABASE_URL` (`eval "$(scripts/pg)"`).

mod agents_scripts;
mod auth;
mod contract;
mod demo_surface;
mod helpers;
mod lists;
mod matrix;
mod ops;
mod requester_scope;
mod routers;
mod sessions;
mod sla;
mod tenancy;
mod tenant_profile;
mod thresholds_alerts;
mod tickets;
mod users;
