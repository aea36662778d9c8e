//! Operator commands: migrations, the first superadmin, and master key rotation.

use crate::Failure;
use crate::config::Settings;
use anyhow::{Context, anyhow};
use centinela_ingest::pki::MasterKey;
use centinela_ingest::routeros::credentials::RouterCredentials;
use centinela_model::{Role, Scope};
use centinela_storage::metrics::Layout;
use centinela_storage::timescale::TimescaleError;
use centinela_storage::{Store, routers, users};
use clap::Subcommand;
use std::io::Read;
use uuid::Uuid;

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Creates a user; the password is read from standard input.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// superadmin, admin, technician, client_admin or requester.
        #[arg(long)]
        role: String,
        /// Tenant id, required for client_admin and requester.
        #[arg(long)]
        tenant: Option<Uuid>,
    },
    /// Re-encrypts the CA key, the command signing key and every router's credentials under a
    /// new master key, read
    /// (base64 of 32 bytes) from standard input; the current key comes from the configuration.
    /// All or nothing: one transaction. Afterwards, set the new key in the configuration.
    RotateMasterKey,
}

/// Connects, decides the metrics storage (`storage.timescaledb`) and applies migrations.
pub async fn connect(settings: &Settings) -> Result<Store, Failure> {
    let url = settings.database_url()?;
    let store = Store::connect(url, settings.database.max_connections)
        .await
        .context("cannot connect to the database")?;
    let decision = match store.migrate_with(settings.storage.timescaledb).await {
        Ok(decision) => decision,
        Err(TimescaleError::Refused(why)) => {
            return Err(Failure::Config(format!(
                "configuration error: storage.timescaledb (CENTINELA_STORAGE__TIMESCALEDB): {why}"
            )));
        }
        Err(TimescaleError::Storage(e)) => {
            return Err(anyhow!(e).context("cannot apply migrations").into());
        }
    };
    if let Some(warning) = &decision.warning {
        tracing::warn!("{warning}");
    }
    let path = match decision.layout {
        Layout::Timescale => "TimescaleDB hypertable",
        Layout::Partitioned => "native partitioning (PostgreSQL)",
    };
    tracing::info!(path, reason = %decision.reason, "Metrics storage: {path}.");
    Ok(store)
}

pub async fn migrate(settings: &Settings) -> Result<(), Failure> {
    connect(settings).await?;
    println!("migrations applied");
    Ok(())
}

pub async fn run(command: AdminCommand, settings: &Settings) -> Result<(), Failure> {
    match command {
        AdminCommand::CreateUser {
            email,
            name,
            role,
            tenant,
        } => create_user(settings, &email, &name, &role, tenant).await,
        AdminCommand::RotateMasterKey => rotate_master_key(settings).await,
    }
}

fn master_key(text: &str, what: &str) -> Result<MasterKey, Failure> {
    MasterKey::from_base64(text)
        .map_err(|e| Failure::Config(format!("configuration error: {what}: {e}")))
}

async fn rotate_master_key(settings: &Settings) -> Result<(), Failure> {
    // The current key may be a weak one (the old example's): rotating away from it is the fix,
    // so only the new key must be strong.
    let current = master_key(
        settings.master_key_text()?,
        "secrets.master_key (CENTINELA_SECRETS__MASTER_KEY)",
    )?;
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the new master key from stdin")?;
    let new = master_key(text.trim(), "the new master key (stdin)")?;
    crate::config::check_master_key(text.trim(), "the new master key (stdin)")?;
    let store = connect(settings).await?;
    let mut tx = store.begin(Scope::All).await.context("database")?;
    // A running engine would go on sealing new router credentials with the old key.
    if !centinela_storage::lock_out_engines(&mut tx)
        .await
        .context("database")?
    {
        return Err(Failure::Runtime(anyhow!(
            "an engine (centinela serve) is running on this database: stop every engine, rotate, set the new key, then start them again"
        )));
    }
    let ca = centinela_storage::pki::load_for_update(&mut tx)
        .await
        .context("cannot read the CA")?;
    if let Some((_, sealed)) = ca {
        let key = current.decrypt(&sealed).map_err(|_| {
            Failure::Config("configuration error: secrets.master_key (CENTINELA_SECRETS__MASTER_KEY) cannot unseal the stored CA; nothing was changed".into())
        })?;
        centinela_storage::pki::reseal(&mut tx, &new.encrypt(&key))
            .await
            .context("cannot store the CA key")?;
    }
    if let Some((_, sealed)) = centinela_storage::scripts::signing_key(&mut tx)
        .await
        .context("cannot read the command key")?
    {
        let secret = current.decrypt(&sealed).map_err(|_| {
            anyhow!(
                "the command signing key does not open with the current key; nothing was changed"
            )
        })?;
        centinela_storage::scripts::reseal_signing_key(&mut tx, &new.encrypt(&secret))
            .await
            .context("cannot store the command key")?;
    }
    let routers = routers::all(&mut tx)
        .await
        .context("cannot read the routers")?;
    for router in &routers {
        let credentials = RouterCredentials::unseal(&router.sealed_credentials, &current)
            .map_err(|e| anyhow!("router {}: {e}; nothing was changed", router.device_id))?;
        routers::reseal(&mut tx, router.device_id, &credentials.seal(&new))
            .await
            .context("cannot store router credentials")?;
    }
    tx.commit().await.context("database")?;
    println!(
        "re-encrypted the CA key, the command signing key and {} router credential(s); now set secrets.master_key (CENTINELA_SECRETS__MASTER_KEY) to the new key and restart",
        routers.len()
    );
    Ok(())
}

async fn create_user(
    settings: &Settings,
    email: &str,
    name: &str,
    role: &str,
    tenant: Option<Uuid>,
) -> Result<(), Failure> {
    let role: Role = role
        .parse()
        .map_err(|e| Failure::Runtime(anyhow!("--role: {e}")))?;
    if role.is_staff() == tenant.is_some() {
        return Err(Failure::Runtime(anyhow!(
            "--tenant is required for tenant roles and not allowed for staff roles"
        )));
    }
    // Stored lower-cased whole, as the API stores it (login lower-cases what is typed).
    let email = email.trim().to_lowercase();
    let email = email.as_str();
    if !email.contains('@') {
        return Err(Failure::Runtime(anyhow!("--email: not an email address")));
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    centinela_model::helpdesk::check_password(password)
        .map_err(|e| Failure::Runtime(anyhow!("the password (stdin): {e}")))?;
    let hash = centinela_api::hash_password(password)
        .map_err(|e| anyhow!("cannot hash the password: {e}"))?;
    let store = connect(settings).await?;
    let mut tx = store.begin(Scope::All).await.context("database")?;
    let user = users::create(&mut tx, email, name, role.as_str(), tenant, &hash)
        .await
        .map_err(|e| anyhow!("cannot create the user: {e}"))?;
    tx.commit().await.context("database")?;
    println!("created user {} ({})", user.id, user.email);
    Ok(())
}
