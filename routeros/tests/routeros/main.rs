//! Integration tests of the RouterOS client against a scripted peer (one test binary).
//!
//! Each test starts a tiny peer on 127.0.0.1:0 that reads sentences with the crate's own
//! `Decoder` and writes exact replies, so every protocol corner (ordering, fragmentation,
//! late sentences, `!fatal`) is reproduced deterministically without a router.

mod commands;
mod connect;
mod login;
mod peer;
mod streams;
mod tls;
