//! Connecting: refused and unanswered addresses produce `Connect` errors naming the address.

use std::time::Duration;

use centinela_routeros::client::{Client, ClientConfig, ClientError};
use tokio::net::TcpListener;

#[tokio::test]
async fn refused_port_names_the_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let config = ClientConfig::new("127.0.0.1", addr.port(), "admin", "");
    let error = Client::connect(&config).await.expect_err("refused");
    let ClientError::Connect(io) = &error else {
        panic!("expected a connect error, got {error:?}");
    };
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(
        error
            .to_string()
            .contains(&format!("127.0.0.1:{}", addr.port())),
        "{error}"
    );
}

/// 192.0.2.1 (TEST-NET-1) never answers; where there is no route at all the error is
/// immediate instead. Either way it is a `Connect` error naming the address.
#[tokio::test]
async fn unanswered_address_times_out() {
    let mut config = ClientConfig::new("192.0.2.1", 8728, "admin", "");
    config.connect_timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let error = Client::connect(&config).await.expect_err("no router there");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(error, ClientError::Connect(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("cannot connect to 192.0.2.1:8728"),
        "{error}"
    );
}

#[tokio::test]
async fn unresolvable_host_is_a_connect_error() {
    let mut config = ClientConfig::new("no-such-host.invalid", 8728, "admin", "");
    config.connect_timeout = Duration::from_secs(2);
    let error = Client::connect(&config).await.expect_err("no such host");
    assert!(matches!(error, ClientError::Connect(_)), "{error:?}");
    assert!(
        error.to_string().contains("no-such-host.invalid:8728"),
        "{error}"
    );
}
