//! Enrollment end to end (`enroll` subcommand) and certificate renewal (`run`).
//!
//! The order matters: the key is generated locally, the CSR goes to the engine, and files are
//! written only once both answers arrived — a failed enrollment leaves no half-configured
//! agent behind, and a failed renewal keeps the old, still valid key and certificate.

use crate::cert::{self, CertError};
use crate::config::{AgentConfig, ConfigError, FilePaths, Secret, write_private};
use crate::enroll::{EnrollClient, EnrollError};
use chrono::Utc;
use std::path::{Path, PathBuf};

/// Why enrollment or renewal failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Enroll(#[from] EnrollError),
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn write(path: &Path, text: &str) -> Result<(), ProvisionError> {
    write_private(path, text.as_bytes()).map_err(|source| ProvisionError::Write {
        path: path.to_owned(),
        source,
    })
}

/// A light hardware summary sent with the enrollment request.
fn hardware_summary() -> serde_json::Value {
    serde_json::json!({
        "os": sysinfo::System::name().unwrap_or_default(),
        "os_version": sysinfo::System::long_os_version().unwrap_or_default(),
        "arch": sysinfo::System::cpu_arch(),
        "agent_version": env!("CARGO_PKG_VERSION"),
    })
}

/// Enrolls this machine and writes the configuration, key and certificates.
pub async fn enroll(
    config_path: &Path,
    server: &str,
    site_key: &str,
    hostname: &str,
) -> Result<AgentConfig, ProvisionError> {
    let client = EnrollClient::new(server)?;
    let enrolled = client
        .enroll(site_key, hostname, Some(hardware_summary()))
        .await?;
    let keys = cert::generate_key_and_csr(&enrolled.device_key)?;
    let issued = client
        .certificate(&enrolled.device_token, &keys.csr_pem)
        .await?;
    let config = AgentConfig {
        server_url: client.server().to_owned(),
        device_id: enrolled.device_id,
        device_key: enrolled.device_key,
        device_token: Secret::new(enrolled.device_token),
        ws_url: enrolled.ws_url,
        command_public_key: enrolled.command_public_key,
        mqtt: issued.mqtt.clone().unwrap_or(enrolled.mqtt),
        intervals: enrolled.intervals,
        files: FilePaths::default(),
    };
    let files = &config.files;
    write(
        &AgentConfig::resolve(config_path, &files.key),
        &keys.key_pem,
    )?;
    write(
        &AgentConfig::resolve(config_path, &files.certificate),
        &issued.certificate,
    )?;
    write(
        &AgentConfig::resolve(config_path, &files.ca_certificate),
        &issued.ca_certificate,
    )?;
    config.save(config_path)?;
    Ok(config)
}

/// Renews the device certificate when it expires within 30 days (or cannot be read).
/// Returns whether it was renewed.
pub async fn renew_if_needed(
    config_path: &Path,
    config: &AgentConfig,
) -> Result<bool, ProvisionError> {
    let cert_path = AgentConfig::resolve(config_path, &config.files.certificate);
    let current = std::fs::read_to_string(&cert_path).map_err(|source| ProvisionError::Read {
        path: cert_path.clone(),
        source,
    })?;
    let expiring = match cert::not_after_pem(&current) {
        Ok(not_after) => cert::needs_renewal(not_after, Utc::now()),
        Err(_) => true,
    };
    if !expiring {
        return Ok(false);
    }
    let client = EnrollClient::new(&config.server_url)?;
    let keys = cert::generate_key_and_csr(&config.device_key)?;
    let issued = client
        .certificate(config.device_token.expose(), &keys.csr_pem)
        .await?;
    let files = &config.files;
    write(
        &AgentConfig::resolve(config_path, &files.key),
        &keys.key_pem,
    )?;
    write(&cert_path, &issued.certificate)?;
    write(
        &AgentConfig::resolve(config_path, &files.ca_certificate),
        &issued.ca_certificate,
    )?;
    tracing::info!("Device certificate renewed.");
    Ok(true)
}
