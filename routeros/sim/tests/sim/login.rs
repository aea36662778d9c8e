//! Login in both generations, failures, pre-login commands and `/quit`.

use centinela_routeros::client::{Client, ClientConfig, ClientError};
use centinela_routeros::codec::Request;
use centinela_routeros::login::challenge_response;
use centinela_routeros_sim::{RouterVersion, SimConfig};

use crate::common::{Raw, client, config, sim, text};

fn with_user(legacy_login: bool) -> SimConfig {
    SimConfig {
        users: vec![("ops".to_string(), "secret".to_string())],
        legacy_login,
        ..config(RouterVersion::V7_16, "")
    }
}

async fn connect(
    handle: &centinela_routeros_sim::SimHandle,
    user: &str,
    password: &str,
) -> Result<Client, ClientError> {
    let addr = handle.local_addr();
    Client::connect(&ClientConfig::new(
        addr.ip().to_string(),
        addr.port(),
        user,
        password,
    ))
    .await
}

#[tokio::test]
async fn modern_login_accepts_configured_users_only() {
    for legacy in [false, true] {
        let handle = sim(with_user(legacy)).await;
        let ok = connect(&handle, "ops", "secret")
            .await
            .expect("right password");
        let rows = ok
            .run(Request::new("/system/identity/print"))
            .await
            .expect("identity");
        assert_eq!(rows[0].text("name").as_deref(), Some("MikroTik"));
        let error = connect(&handle, "ops", "wrong")
            .await
            .expect_err("wrong password");
        let expected = if legacy {
            "cannot log in"
        } else {
            "invalid user name or password (6)"
        };
        assert!(
            matches!(&error, ClientError::Login(m) if m == expected),
            "legacy={legacy}: {error:?}"
        );
        assert!(
            connect(&handle, "admin", "").await.is_err(),
            "admin is not a user here"
        );
        handle.shutdown().await;
    }
}

#[tokio::test]
async fn wrong_password_traps_then_allows_retry_on_the_same_socket() {
    let handle = sim(with_user(false)).await;
    let mut raw = Raw::connect(&handle).await;
    raw.send(&["/login", "=name=ops", "=password=nope", ".tag=1"])
        .await;
    assert_eq!(
        raw.words().await,
        [
            "!trap",
            ".tag=1",
            "=message=invalid user name or password (6)"
        ]
    );
    assert_eq!(raw.words().await, ["!done", ".tag=1"]);
    raw.send(&["/login", "=name=ops", "=password=secret"]).await;
    assert_eq!(raw.words().await, ["!done"]);
    raw.send(&["/system/identity/print"]).await;
    assert_eq!(raw.words().await, ["!re", "=name=MikroTik"]);
}

#[tokio::test]
async fn modern_router_answers_bare_login_with_a_challenge_but_refuses_the_response() {
    let handle = sim(with_user(false)).await;
    let mut raw = Raw::connect(&handle).await;
    raw.send(&["/login"]).await;
    let done = raw.reply().await;
    let challenge = text(&done, "ret");
    assert_eq!(challenge.len(), 32);
    let response = challenge_response(b"secret", &challenge).expect("hex challenge");
    raw.send(&["/login", "=name=ops", &format!("=response={response}")])
        .await;
    assert_eq!(
        raw.words().await,
        ["!trap", "=message=invalid user name or password (6)"]
    );
    assert_eq!(raw.words().await, ["!done"]);
}

#[tokio::test]
async fn legacy_router_challenges_every_login_and_checks_the_md5_response() {
    let handle = sim(with_user(true)).await;
    let mut raw = Raw::connect(&handle).await;
    raw.send(&["/login", "=name=ops", "=password=secret"]).await;
    let challenge = text(&raw.reply().await, "ret");
    raw.send(&[
        "/login",
        "=name=ops",
        "=response=00112233445566778899aabbccddeeff00",
    ])
    .await;
    assert_eq!(raw.words().await, ["!trap", "=message=cannot log in"]);
    assert_eq!(raw.words().await, ["!done"]);
    let response = challenge_response(b"secret", &challenge).expect("hex challenge");
    raw.send(&["/login", "=name=ops", &format!("=response={response}")])
        .await;
    assert_eq!(raw.words().await, ["!done"]);
}

#[tokio::test]
async fn commands_before_login_are_fatal() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    let mut raw = Raw::connect(&handle).await;
    raw.send(&["/system/resource/print", ".tag=3"]).await;
    assert_eq!(raw.words().await, ["!fatal", "not logged in"]);
    raw.expect_closed().await;
}

#[tokio::test]
async fn quit_ends_the_session() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&["/quit"]).await;
    assert_eq!(
        raw.words().await,
        ["!fatal", "session terminated on request"]
    );
    raw.expect_closed().await;
}

#[tokio::test]
async fn close_on_login_failure_quirk_closes_after_the_trap() {
    let handle = sim(config(
        RouterVersion::V7_16,
        "[quirks]\nclose_on_login_failure = true",
    ))
    .await;
    let mut raw = Raw::connect(&handle).await;
    raw.send(&["/login", "=name=admin", "=password=x"]).await;
    assert_eq!(
        raw.words().await,
        ["!trap", "=message=invalid user name or password (6)"]
    );
    assert_eq!(raw.words().await, ["!done"]);
    raw.expect_closed().await;
}

#[tokio::test]
async fn logins_are_logged_like_the_router_does() {
    let handle = sim(config(RouterVersion::V7_16, "log = []")).await;
    assert!(connect(&handle, "admin", "bad").await.is_err());
    let client = client(&handle).await;
    let rows = client
        .print("/log/print", &["topics", "message"], &[])
        .await
        .expect("log");
    let lines: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.text("topics").unwrap_or_default().into_owned(),
                r.text("message").unwrap_or_default().into_owned(),
            )
        })
        .collect();
    let expected = [
        (
            "system,error,critical",
            "login failure for user admin from 127.0.0.1 via api",
        ),
        (
            "system,info,account",
            "user admin logged in from 127.0.0.1 via api",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(t, m)| (t.to_string(), m.to_string()))
        .collect();
    assert_eq!(lines, expected);
}
