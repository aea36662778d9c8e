//! The engine's CA: loaded from the database and unsealed with the master key, or created on
//! first start. Bridges ingest's CA to the API's `CertificateSigner`.

use crate::Failure;
use anyhow::Context;
use centinela_api::{CertificateSigner, CommandSigner, CredentialSealer};
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

/// The engine's Ed25519 key for signing commands to agents.
pub struct CommandKey(ed25519_dalek::SigningKey);

impl CommandSigner for CommandKey {
    fn sign(&self, payload: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer as _;
        self.0.sign(payload).to_bytes().to_vec()
    }

    fn public_key_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.0.verifying_key().to_bytes())
    }
}

/// Loads (or creates, once) the command signing key; its private half is sealed under the
/// master key like the CA's.
pub async fn load_or_create_command_key(
    store: &Store,
    key: &MasterKey,
) -> Result<Arc<CommandKey>, Failure> {
    use rand::RngCore as _;
    let mut tx = store
        .begin(centinela_model::Scope::All)
        .await
        .context("database")?;
    let stored = match centinela_storage::scripts::signing_key(&mut tx)
        .await
        .context("cannot read the command key")?
    {
        Some(found) => found,
        None => {
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
            let public = signing.verifying_key().to_bytes();
            tracing::info!("Created the engine's command signing key.");
            centinela_storage::scripts::store_signing_key_if_absent(
                &mut tx,
                &public,
                &key.encrypt(&secret),
            )
            .await
            .context("cannot store the command key")?
        }
    };
    tx.commit().await.context("database")?;
    let secret = key.decrypt(&stored.1).map_err(|e| {
        Failure::Config(format!(
            "configuration error: secrets.master_key (CENTINELA_SECRETS__MASTER_KEY) cannot unseal the command signing key: {e}"
        ))
    })?;
    let secret: [u8; 32] = secret
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("the stored command key is damaged"))?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
    if signing.verifying_key().to_bytes().as_slice() != stored.0.as_slice() {
        return Err(
            anyhow::anyhow!("the stored command key does not match its public half").into(),
        );
    }
    Ok(Arc::new(CommandKey(signing)))
}
