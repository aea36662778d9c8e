//! Login: ≥ 6.43 plain, wrong credentials, < 6.43 MD5 challenge, silent router.

use std::time::Duration;

use centinela_routeros::client::{Client, ClientError};
use centinela_routeros::codec::{Reply, Request};

use crate::peer::{self, PASSWORD, USER, spawn_peer, tag_of};

#[tokio::test]
async fn modern_login_then_a_command() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let request = conn.expect("/system/resource/print").await;
        let tag = tag_of(&request);
        conn.send(Reply::re().with_tag(tag).attr("uptime", "1w2d3h4m5s"))
            .await;
        conn.send(Reply::done().with_tag(tag)).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let rows = client
        .run(Request::new("/system/resource/print"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].text("uptime").as_deref(), Some("1w2d3h4m5s"));
    client.close().await;
    assert!(client.is_closed());
    peer::finish(peer).await;
}

#[tokio::test]
async fn wrong_password_reports_the_routers_message() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.expect("/login").await;
        conn.send(Reply::trap("invalid user name or password (6)"))
            .await;
        conn.send(Reply::done()).await;
    })
    .await;
    let error = Client::connect(&peer::config(addr))
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, ClientError::Login(m) if m == "invalid user name or password (6)"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "login failed: invalid user name or password (6)"
    );
    peer::finish(peer).await;
}

/// The pre-6.43 router ignores the plain arguments and answers with a challenge; the peer
/// checks the MD5 response against the §1.8 vector for password `secret`.
#[tokio::test]
async fn legacy_challenge_login() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.expect("/login").await;
        conn.send(Reply::done().attr("ret", "856780b7411eefd3abadee2058c149a3"))
            .await;
        let response = conn.expect("/login").await;
        assert_eq!(response.get("name"), Some(USER.as_bytes()));
        assert_eq!(
            response.get("response"),
            Some(&b"009622e621f0892961a28bcf7a0cea13e4"[..])
        );
        assert_eq!(response.get("password"), None);
        conn.send(Reply::done()).await;
        let request = conn.expect("/ip/address/print").await;
        conn.send(Reply::done().with_tag(tag_of(&request))).await;
        conn.wait_eof().await;
    })
    .await;
    assert_eq!(PASSWORD, "secret");
    let client = Client::connect(&peer::config(addr))
        .await
        .expect("legacy login");
    let rows = client
        .run(Request::new("/ip/address/print"))
        .await
        .expect("works");
    assert!(rows.is_empty());
    drop(client);
    peer::finish(peer).await;
}

#[tokio::test]
async fn legacy_challenge_rejected() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.expect("/login").await;
        conn.send(Reply::done().attr("ret", "259e0bc05acd6f46926dc2f809ed1bba"))
            .await;
        conn.expect("/login").await;
        conn.send(Reply::trap("cannot log in")).await;
        conn.send(Reply::done()).await;
    })
    .await;
    let error = Client::connect(&peer::config(addr))
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, ClientError::Login(m) if m == "cannot log in"),
        "{error:?}"
    );
    peer::finish(peer).await;
}

#[tokio::test]
async fn invalid_challenge_is_a_login_error() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.expect("/login").await;
        conn.send(Reply::done().attr("ret", "not-hex")).await;
        conn.wait_eof().await;
    })
    .await;
    let error = Client::connect(&peer::config(addr))
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, ClientError::Login(m) if m.contains("not-hex")),
        "{error:?}"
    );
    peer::finish(peer).await;
}

#[tokio::test]
async fn fatal_during_login() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.expect("/login").await;
        conn.send(Reply::fatal("too many commands before login"))
            .await;
    })
    .await;
    let error = Client::connect(&peer::config(addr))
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, ClientError::Fatal(m) if m == "too many commands before login"),
        "{error:?}"
    );
    peer::finish(peer).await;
}

#[tokio::test]
async fn silent_router_times_out_the_login() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.expect("/login").await;
        conn.wait_eof().await;
    })
    .await;
    let mut config = peer::config(addr);
    config.command_timeout = Duration::from_millis(200);
    let error = Client::connect(&config).await.expect_err("times out");
    assert!(
        matches!(error, ClientError::Timeout("logging in")),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "timed out while logging in");
    peer::finish(peer).await;
}
