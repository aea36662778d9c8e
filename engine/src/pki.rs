//! The engine's CA: loaded from the database and unsealed with the master key, or created on
//! first start. Bridges ingest's CA to the API's `CertificateSigner`.

use crate::Failure;
use anyhow::Context;
use centinela_api::{CertificateSigner, CredentialSealer};
use centinela_ingest::pki::{CertificateAuthority, MasterKey, StoredCa};
use centinela_ingest::routeros::credentials::RouterCredentials;
use centinela_storage::Store;
use std::sync::Arc;

/// Days a device certificate is valid; agents renew before expiry.
const DEVICE_CERT_DAYS: u32 = 365;

/// Loads (or creates, once) the CA.
pub async fn load_or_create(
    store: &Store,
    key: &MasterKey,
) -> Result<Arc<CertificateAuthority>, Failure> {
    let stored = centinela_storage::pki::load(store.pool())
        .await
        .context("cannot read the CA")?;
    let (cert_pem, sealed_key) = match stored {
        Some(found) => found,
        None => {
            let ca = CertificateAuthority::generate("Centinela device CA")
                .context("cannot create the CA")?;
            let sealed = ca.seal(key);
            tracing::info!("Created the engine's device CA.");
            centinela_storage::pki::store_if_absent(
                store.pool(),
                &sealed.cert_pem,
                &sealed.sealed_key,
            )
            .await
            .context("cannot store the CA")?
        }
    };
    let ca = CertificateAuthority::unseal(&StoredCa { cert_pem, sealed_key }, key).map_err(|e| {
        Failure::Config(format!(
            "configuration error: secrets.master_key (CENTINELA_SECRETS__MASTER_KEY) cannot unseal the stored CA: {e}"
        ))
    })?;
    Ok(Arc::new(ca))
}

/// The API's view of the CA.
pub struct Signer(pub Arc<CertificateAuthority>);

impl CertificateSigner for Signer {
    fn sign_device_csr(&self, csr_pem: &str, device_key: &str) -> Result<String, String> {
        self.0
            .sign_device_csr(csr_pem, device_key, DEVICE_CERT_DAYS)
            .map_err(|e| e.to_string())
    }

    fn ca_certificate_pem(&self) -> String {
        self.0.cert_pem().to_owned()
    }
}

/// The API's view of the master key: it can seal router credentials, never open them.
pub struct Sealer(pub Arc<MasterKey>);

impl CredentialSealer for Sealer {
    fn seal_router_credentials(&self, username: &str, password: &str) -> Vec<u8> {
        RouterCredentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }
        .seal(&self.0)
    }
}
