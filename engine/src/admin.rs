//! Operator commands: migrations and the first superadmin.

use crate::Failure;
use crate::config::Settings;
use anyhow::{Context, anyhow};
use centinela_model::{Role, Scope};
use centinela_storage::{Store, users};
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
}

pub async fn connect(settings: &Settings) -> Result<Store, Failure> {
    let url = settings.database_url()?;
    let store = Store::connect(url, settings.database.max_connections)
        .await
        .context("cannot connect to the database")?;
    store.migrate().await.context("cannot apply migrations")?;
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
    }
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
    if !email.contains('@') {
        return Err(Failure::Runtime(anyhow!("--email: not an email address")));
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.chars().count() < 8 {
        return Err(Failure::Runtime(anyhow!(
            "the password (stdin) must have at least 8 characters"
        )));
    }
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
