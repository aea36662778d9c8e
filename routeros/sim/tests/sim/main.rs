//! Integration tests of the simulator over real sockets: wire behaviour with raw sentences,
//! data with the project's client, the binary, and the third-party Python clients.

mod binary;
mod common;
mod data;
mod login;
mod protocol;
mod streams;
mod third_party;
mod tls;
