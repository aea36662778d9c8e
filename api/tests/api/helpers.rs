//! Test support: a fresh database, a running runtime, seeding and request helpers.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use centinela_actors::{Runtime, RuntimeConfig, Telemetry};
use centinela_api::{
    AgentSettings, ApiState, AuthConfig, AuthGuards, CertificateSigner, CommandSigner,
    CredentialSealer, MqttEndpoint, hash_password,
};
use centinela_model::Scope;
use centinela_storage::alerts::{self, AlertFacts};
use centinela_storage::{Store, devices, sites, tenants, users};
use chrono::Utc;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use uuid::Uuid;

/// Stands in for the engine's AES-GCM sealer (tested in ingest and end to end): it only has
/// to keep the password out of the stored bytes so the tests can check it never comes back.
pub struct TestSealer;

impl CredentialSealer for TestSealer {
    fn seal_router_credentials(&self, username: &str, password: &str) -> Vec<u8> {
        format!("{username}\0{password}")
            .bytes()
            .map(|b| b ^ 0x5A)
            .collect()
    }
}

/// A stand-in signature (the real Ed25519 signer is the engine's, verified end to end by the
/// agent): the payload's length, so tests can see what was signed.
pub struct TestCommandSigner;

impl CommandSigner for TestCommandSigner {
    fn sign(&self, payload: &[u8]) -> Vec<u8> {
        payload.len().to_be_bytes().to_vec()
    }

    fn public_key_base64(&self) -> String {
        "dGVzdC1wdWJsaWMta2V5".into()
    }
}

/// Signs any CSR that looks like PEM; refuses the rest.
pub struct DummySigner;

impl CertificateSigner for DummySigner {
    fn sign_device_csr(&self, csr_pem: &str, device_key: &str) -> Result<String, String> {
        if csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----") {
            Ok(format!(
                "-----BEGIN CERTIFICATE-----\n{device_key}\n-----END CERTIFICATE-----\n"
            ))
        } else {
            Err("not a PEM certificate request".into())
        }
    }

    fn ca_certificate_pem(&self) -> String {
        "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".into()
    }
}

/// A fresh database and the state the engine would build over it.
pub async fn state() -> ApiState {
    state_with_url().await.0
}

/// The same, with the API on its own pool whose statements time out after `timeout`, as the
/// engine builds it; also returns the database URL.
pub async fn state_with_api_timeout(timeout: std::time::Duration) -> (ApiState, String) {
    let (mut state, url) = state_with_url().await;
    state.store = Store::connect_api(&url, 2, timeout).await.unwrap();
    (state, url)
}

async fn state_with_url() -> (ApiState, String) {
    let (store, url) = centinela_storage::testing::fresh_store().await;
    let config = RuntimeConfig {
        shards: 1,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::start(store.clone(), Arc::new(Telemetry::new()), config)
        .await
        .unwrap();
    let auth = AuthConfig::new(b"integration test secret, 32 bytes or more".to_vec());
    let state = ApiState {
        runtime,
        store,
        guards: AuthGuards::new(&auth),
        auth,
        signer: Arc::new(DummySigner),
        mqtt: MqttEndpoint {
            host: "localhost".into(),
            port: 8883,
        },
        broker_up: Arc::new(AtomicBool::new(true)),
        sealer: Arc::new(TestSealer),
        command_signer: Arc::new(TestCommandSigner),
        agents: AgentSettings::default(),
    };
    (state, url)
}

/// Builds the test service from a state.
#[macro_export]
macro_rules! app {
    ($state:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .app_data(actix_web::web::Data::new($state.clone()))
                .configure(centinela_api::configure),
        )
        .await
    };
}

/// Sends a request; returns the status and the JSON body (`Null` when not JSON).
pub async fn send<S, R, B>(app: &S, req: R) -> (StatusCode, Value)
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(app, req).await;
    let status = response.status();
    let bytes = test::read_body(response).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A request with a bearer token.
pub fn authed(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header(("Authorization", format!("Bearer {token}")))
}

/// Creates a user directly in storage.
pub async fn user(
    store: &Store,
    email: &str,
    password: &str,
    role: &str,
    tenant: Option<Uuid>,
) -> Uuid {
    let hash = hash_password(password).unwrap();
    let mut tx = store.begin(Scope::All).await.unwrap();
    let user = users::create(&mut tx, email, "Usuario Prueba", role, tenant, &hash)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    user.id
}

/// Logs in through the API; evaluates to the access token.
#[macro_export]
macro_rules! login {
    ($app:expr, $email:expr, $password:expr) => {{
        let req = actix_web::test::TestRequest::post()
            .uri("/api/auth/login")
            .set_json(serde_json::json!({"email": $email, "password": $password}))
            .to_request();
        let (status, body) = $crate::helpers::send(&$app, req).await;
        assert_eq!(status, actix_web::http::StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }};
}

/// A tenant with one site, created in storage. Returns (tenant, site).
pub async fn tenant_with_site(store: &Store, name: &str, plan: &str) -> (Uuid, Uuid) {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let tenant = tenants::create(&mut tx, name, plan).await.unwrap();
    let site = sites::NewSite {
        tenant_id: tenant.id,
        name: format!("Sede {name}"),
        ..Default::default()
    };
    let site = sites::create(&mut tx, &site).await.unwrap();
    tx.commit().await.unwrap();
    (tenant.id, site.id)
}

/// A device created in storage; returns (id, token).
pub async fn device(store: &Store, tenant: Uuid, site: Uuid, name: &str) -> (Uuid, String) {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let (device, token) = devices::create(&mut tx, tenant, site, name, "agent")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (device.id, token)
}

/// Opens a critical CPU alert on a device directly in storage.
pub async fn alert(store: &Store, tenant: Uuid, device: Uuid) -> Uuid {
    let facts = AlertFacts {
        id: uuid::Uuid::new_v4(),
        tenant_id: tenant,
        device_id: device,
        key: "cpu.usage_pct".into(),
        threshold_id: None,
        severity: "critical".into(),
        title: "CPU alta".into(),
        description: "Uso de CPU por encima del límite".into(),
        recommended_action: "Revisar procesos".into(),
        value: 97.0,
        threshold: Some(90.0),
        at: Utc::now(),
    };
    let mut tx = store.begin(Scope::All).await.unwrap();
    let (alert, _) = alerts::open(&mut tx, &facts).await.unwrap();
    tx.commit().await.unwrap();
    alert.id
}

/// Serves the API of a state on a real HTTP server on 127.0.0.1, port 0 (for WebSocket
/// clients); returns its address. The server stops with the test's actix system.
pub fn serve(state: &ApiState) -> std::net::SocketAddr {
    let state = state.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(actix_web::web::Data::new(state.clone()))
            .configure(centinela_api::configure)
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_rt::spawn(server.run());
    addr
}

/// A state whose auth settings are changed by `change` (the guards rebuilt from them).
pub async fn state_with(change: impl FnOnce(&mut AuthConfig)) -> ApiState {
    let mut state = state().await;
    change(&mut state.auth);
    state.guards = AuthGuards::new(&state.auth);
    state
}

/// Runs one statement as the engine (all tenants visible), e.g. to change a user behind the
/// API's back.
pub async fn execute(store: &Store, sql: &'static str, id: Uuid) {
    let mut tx = store.begin(Scope::All).await.unwrap();
    sqlx::query(sql).bind(id).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// An HTTP client for the real server. reqwest is built with rustls in this workspace (the
/// agent enables it) but without a crypto provider: install ring's first, as the binaries do.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
