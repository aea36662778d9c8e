//! The simulator's state file: the virtual devices it enrolled, with their keys and
//! certificates, so a second run reuses them instead of filling the tenant with new devices.

use crate::cert;
use crate::enroll::{CertificateResponse, EnrollClient, EnrollError, EnrollResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Enrollment requests in flight at once (the engine rate-limits enrollment).
pub const ENROLL_CONCURRENCY: usize = 16;

/// Why the state could not be read, written or completed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the simulator state {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the simulator state {path} is invalid: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write the simulator state {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("enrolling a simulated device failed: {0}")]
    Enroll(#[from] EnrollError),
    #[error("key generation failed: {0}")]
    Cert(#[from] cert::CertError),
}

/// One enrolled virtual device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimDevice {
    pub hostname: String,
    pub enrolled: EnrollResponse,
    pub key_pem: String,
    pub certificate: CertificateResponse,
}

/// Every virtual device of one server.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SimState {
    pub server: String,
    pub devices: Vec<SimDevice>,
}

impl SimState {
    /// Loads the state for `server`; a missing file, or one for another server, is empty.
    pub fn load(path: &Path, server: &str) -> Result<Self, StateError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if bytes.is_empty() {
            return Ok(Self::empty(server));
        }
        let state: SimState =
            serde_json::from_slice(&bytes).map_err(|source| StateError::Parse {
                path: path.to_owned(),
                source,
            })?;
        if state.server != server {
            tracing::warn!(file_server = %state.server, "State file is for another server; starting afresh.");
            return Ok(Self::empty(server));
        }
        Ok(state)
    }

    fn empty(server: &str) -> Self {
        Self {
            server: server.to_owned(),
            devices: Vec::new(),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| StateError::Parse {
            path: path.to_owned(),
            source,
        })?;
        crate::config::write_private(path, &bytes).map_err(|source| StateError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// Enrolls devices until there are `n`, 16 at a time, saving after each one so an
    /// interrupted run keeps what it enrolled. Prints `enrolled k/N` progress on stdout.
    pub async fn enroll_missing(
        &mut self,
        path: &Path,
        client: &EnrollClient,
        site_key: &str,
        n: usize,
    ) -> Result<(), StateError> {
        let have = self.devices.len();
        if have >= n {
            println!("enrolled {n}/{n} (reused from {})", path.display());
            return Ok(());
        }
        let prefix = uuid::Uuid::new_v4().simple().to_string();
        let mut pending = futures_util::stream::iter(have..n)
            .map(|i| enroll_one(client, site_key, format!("sim-{}-{i:04}", &prefix[..6])))
            .buffer_unordered(ENROLL_CONCURRENCY);
        while let Some(device) = pending.next().await {
            let device = match device {
                Ok(device) => device,
                Err(error) => {
                    // Keep what was enrolled before failing.
                    self.save(path)?;
                    return Err(error);
                }
            };
            self.devices.push(device);
            let k = self.devices.len();
            if k == n || k.is_multiple_of(10) {
                println!("enrolled {k}/{n}");
            }
            // Rewriting the whole file after every device would be quadratic: every 50.
            if k == n || k.is_multiple_of(50) {
                self.save(path)?;
            }
        }
        Ok(())
    }
}

async fn enroll_one(
    client: &EnrollClient,
    site_key: &str,
    hostname: String,
) -> Result<SimDevice, StateError> {
    let enrolled = client
        .enroll(
            site_key,
            &hostname,
            Some(serde_json::json!({"simulated": true})),
        )
        .await?;
    let keys = cert::generate_key_and_csr(&enrolled.device_key)?;
    let certificate = client
        .certificate(&enrolled.device_token, &keys.csr_pem)
        .await?;
    Ok(SimDevice {
        hostname,
        enrolled,
        key_pem: keys.key_pem,
        certificate,
    })
}
