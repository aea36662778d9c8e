//! # centinela-benches
//!
//! Development-only benchmarks. `benches/hot_paths.rs` holds criterion micro-benchmarks of the
//! hot paths (payload decode, threshold evaluation, the binary COPY encoder); run them with
//! `cargo bench -p centinela-benches`. The end-to-end load tool comes with the performance issue.
//!
//! Depends on: `centinela-model`, `centinela-storage` (for the encoder). Nothing depends on it.
