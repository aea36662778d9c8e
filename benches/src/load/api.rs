//! The engine's HTTP API as the harness uses it: a superadmin sets up a tenant, a site and the
//! thresholds; agents enroll with the site key and trade a CSR for a client certificate, exactly
//! as `centinela-agent enroll` does.

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use reqwest::Client;
use serde_json::{Value, json};
use uuid::Uuid;

/// A logged-in API client.
#[derive(Debug, Clone)]
pub struct Api {
    http: Client,
    base: String,
    pub token: String,
}

/// What an enrolled device holds: identity, token and (for MQTT/TLS) its key and certificate.
#[derive(Debug, Clone)]
pub struct DeviceCreds {
    pub id: Uuid,
    pub key: String,
    pub token: String,
    pub tls: Option<Tls>,
}

/// A device's TLS material, PEM.
#[derive(Debug, Clone)]
pub struct Tls {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

async fn json_of(res: reqwest::Response, what: &str) -> Result<Value> {
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{what}: HTTP {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{what}: not JSON: {text}"))
}

fn field<'a>(v: &'a Value, name: &str, what: &str) -> Result<&'a str> {
    v[name]
        .as_str()
        .with_context(|| format!("{what}: no `{name}` in {v}"))
}

impl Api {
    /// Logs in with email and password.
    pub async fn login(base: &str, email: &str, password: &str) -> Result<Api> {
        let http = Client::new();
        let res = http
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        let body = json_of(res, "login").await?;
        Ok(Api {
            token: field(&body, "access_token", "login")?.to_owned(),
            http,
            base: base.to_owned(),
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        json_of(res, path).await
    }

    /// A tenant on the unlimited plan; its id.
    pub async fn create_tenant(&self, name: &str) -> Result<Uuid> {
        let t = self
            .post("/api/tenants", json!({"name": name, "plan": "pro"}))
            .await?;
        Ok(field(&t, "id", "tenant")?.parse()?)
    }

    /// A site of the tenant; its id and enrollment key.
    pub async fn create_site(&self, tenant: Uuid, name: &str) -> Result<(Uuid, String)> {
        let s = self
            .post("/api/sites", json!({"tenant_id": tenant, "name": name}))
            .await?;
        Ok((
            field(&s, "id", "site")?.parse()?,
            field(&s, "site_key", "site")?.to_owned(),
        ))
    }

    /// A tenant-wide critical `metric > limit` rule, no delay, no ticket.
    pub async fn create_threshold(&self, tenant: Uuid, metric: &str, limit: f64) -> Result<()> {
        let body = json!({
            "scope": "tenant", "scope_id": tenant, "metric": metric, "op": ">",
            "critical": limit, "for_seconds": 0, "auto_ticket": false,
        });
        self.post("/api/thresholds", body).await.map(|_| ())
    }
}

/// Enrolls `count` agents into the site (`concurrency` at a time), each with its own key and
/// certificate when `tls` is set.
pub async fn enroll_many(
    base: &str,
    site_key: &str,
    prefix: &str,
    count: usize,
    tls: bool,
    concurrency: usize,
) -> Result<Vec<DeviceCreds>> {
    let http = Client::new();
    futures_util::stream::iter(0..count)
        .map(|i| {
            let http = http.clone();
            async move { enroll_one(&http, base, site_key, &format!("{prefix}-{i:06}"), tls).await }
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

async fn enroll_one(
    http: &Client,
    base: &str,
    site_key: &str,
    hostname: &str,
    tls: bool,
) -> Result<DeviceCreds> {
    let res = http
        .post(format!("{base}/api/agents/enroll"))
        .json(&json!({"site_key": site_key, "hostname": hostname}))
        .send()
        .await?;
    let e = json_of(res, "enroll").await?;
    let mut creds = DeviceCreds {
        id: field(&e, "device_id", "enroll")?.parse()?,
        key: field(&e, "device_key", "enroll")?.to_owned(),
        token: field(&e, "device_token", "enroll")?.to_owned(),
        tls: None,
    };
    if tls {
        let (csr, key) = device_csr(&creds.key)?;
        let res = http
            .post(format!("{base}/api/agents/certificate"))
            .bearer_auth(&creds.token)
            .json(&json!({"csr": csr}))
            .send()
            .await?;
        let c = json_of(res, "certificate").await?;
        creds.tls = Some(Tls {
            ca: field(&c, "ca_certificate", "certificate")?.to_owned(),
            cert: field(&c, "certificate", "certificate")?.to_owned(),
            key,
        });
    }
    Ok(creds)
}

/// A fresh ECDSA P-256 key and a CSR for it, as the agent makes them: `(csr_pem, key_pem)`.
pub fn device_csr(device_key: &str) -> Result<(String, String)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::new())?;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, device_key);
    let csr = params.serialize_request(&key)?.pem()?;
    Ok((csr, key.serialize_pem()))
}
