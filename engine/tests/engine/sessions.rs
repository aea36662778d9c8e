//! Secrets and sessions end to end: the binary refuses published or weak secrets with exit 2
//! naming the key, and a router cannot be moved to another host without its credentials (a
//! listener on the new port receives nothing; with credentials it is where the engine goes).

use super::harness::{Engine, JWT_SECRET, MASTER_KEY, create_user, free_port, rotate_master_key};
use super::{call, eventually, login};
use reqwest::StatusCode;
use serde_json::json;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The old example's published values.
const EXAMPLE_JWT_SECRET: &str = "change-me-change-me-change-me-change-me";
const EXAMPLE_MASTER_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// `centinela serve` with only the given settings; returns the exit code and stderr.
fn serve_with(config: Option<&Path>, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_centinela"));
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let out = cmd
        .arg("serve")
        .env_remove("CENTINELA_AUTH__JWT_SECRET")
        .env_remove("CENTINELA_SECRETS__MASTER_KEY")
        .env("CENTINELA_HTTP__LISTEN", "127.0.0.1:0")
        .env(
            "CENTINELA_MQTT__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .envs(env.iter().copied())
        .output()
        .expect("run centinela serve");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr)
}

#[test]
fn published_or_weak_secrets_are_refused_with_exit_2_naming_the_key() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../centinela.example.toml");
    let (code, stderr) = serve_with(Some(&example), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("auth.jwt_secret"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");

    let cases = [
        (EXAMPLE_JWT_SECRET, MASTER_KEY, "auth.jwt_secret"),
        ("too-short-secret", MASTER_KEY, "auth.jwt_secret"),
        (JWT_SECRET, EXAMPLE_MASTER_KEY, "secrets.master_key"),
        (
            JWT_SECRET,
            "//////////////////////////////////////////8=",
            "secrets.master_key",
        ),
    ];
    for (jwt, master, key) in cases {
        let (code, stderr) = serve_with(
            Some(&example),
            &[
                ("CENTINELA_AUTH__JWT_SECRET", jwt),
                ("CENTINELA_SECRETS__MASTER_KEY", master),
            ],
        );
        assert_eq!(code, Some(2), "{jwt} / {master}: {stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
        assert!(
            !stderr.contains(jwt) && !stderr.contains(master),
            "never printed"
        );
    }
}

#[tokio::test]
async fn rotating_to_a_placeholder_master_key_is_refused() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let (code, out) = rotate_master_key(&db, MASTER_KEY, EXAMPLE_MASTER_KEY);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("new master key"), "{out}");
}

/// Accepts connections on a port and keeps what each sent within a moment.
fn listen(listener: TcpListener) -> Arc<Mutex<Vec<Vec<u8>>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut bytes = vec![0; 4096];
            let n = stream.read(&mut bytes).unwrap_or(0);
            bytes.truncate(n);
            sink.lock().unwrap().push(bytes);
        }
    });
    seen
}

#[tokio::test]
async fn a_router_moved_without_its_credentials_never_sends_the_password_there() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let engine = Engine::start_with(
        &db,
        data.path().to_path_buf(),
        free_port(),
        &[
            ("CENTINELA_ROUTEROS__POLL_INTERVAL_S", "0.5"),
            ("CENTINELA_ROUTEROS__JITTER", "0"),
            ("CENTINELA_ROUTEROS__CONNECT_TIMEOUT_S", "1"),
        ],
    );
    create_user(&db, "root@msp.test", "superadmin", None, "root-password-1");
    create_user(&db, "tec@msp.test", "technician", None, "tec-password-1");
    let http = super::http_client();
    let root = login(&http, &engine, "root@msp.test", "root-password-1").await;
    let tec = login(&http, &engine, "tec@msp.test", "tec-password-1").await;
    move_router(&http, &engine, &root, &tec).await;
}

/// A technician creates a router reached at a closed port, then tries to move it to a listener
/// without and with its credentials.
async fn move_router(http: &reqwest::Client, engine: &Engine, root: &str, tec: &str) {
    let (s, tenant) = call(
        http,
        engine,
        root,
        "POST",
        "/api/tenants",
        Some(json!({"name": "Ferretería", "plan": "pro"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{tenant}");
    let (_, site) = call(
        http,
        engine,
        root,
        "POST",
        "/api/sites",
        Some(json!({"tenant_id": tenant["id"], "name": "Sucursal"})),
    )
    .await;
    let body = json!({"tenant_id": tenant["id"], "site_id": site["id"], "name": "borde",
        "kind": "routeros", "routeros": {"host": "127.0.0.1", "port": free_port(),
        "username": "api", "password": "clave-vieja-ñ"}});
    let (s, created) = call(http, engine, tec, "POST", "/api/devices", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let path = format!("/api/devices/{}", created["device"]["id"].as_str().unwrap());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = listen(listener);
    let alone = json!({"routeros": {"port": port}});
    let (s, body) = call(http, engine, tec, "PATCH", &path, Some(alone)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["field"]
            .as_str()
            .unwrap_or_default()
            .starts_with("routeros.")
    );
    // Four poll intervals: a moved router would have been dialled by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing dialled the new port"
    );

    let with = json!({"routeros": {"port": port, "username": "api", "password": "clave-nueva"}});
    let (s, body) = call(http, engine, tec, "PATCH", &path, Some(with)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    eventually("the engine dials the router's new port", || {
        let seen = seen.clone();
        async move { !seen.lock().unwrap().is_empty() }
    })
    .await;
    let sent: Vec<u8> = seen.lock().unwrap().concat();
    let sent = String::from_utf8_lossy(&sent);
    assert!(
        sent.contains("clave-nueva"),
        "the listener sees a login: {sent}"
    );
    assert!(
        !sent.contains("clave-vieja"),
        "the old password never went there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_stores_emails_lower_cased_as_the_api_does() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    create_user(
        &db,
        " Ñandú.Admin@MSP.Test ",
        "superadmin",
        None,
        "Sup3r-secret!",
    );
    let engine = Engine::start(&db, data.path().to_owned(), free_port());
    let http = super::http_client();
    // Whatever the case typed at login, the same account.
    let token = login(&http, &engine, "ÑANDÚ.admin@msp.test", "Sup3r-secret!").await;
    let (status, me) = call(&http, &engine, &token, "GET", "/api/auth/me", None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email"], "ñandú.admin@msp.test", "{me}");
}
