//! Integration tests of ingest against a real PostgreSQL (a fresh database per test) and real
//! TCP peers. Needs `CENTINELA_TEST_DATABASE_URL` (`eval "$(scripts/pg)"`).

mod pollers;
