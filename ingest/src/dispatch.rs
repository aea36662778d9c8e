//! The step every transport shares: decode a message of a device and hand it to the runtime,
//! counting acceptances and refusals by transport and reason. A message of a known device
//! refused on its content is not dropped silently: the runtime keeps it as a dead letter with
//! its reason (and a timestamp outside the window tells the device's clock is off).

use centinela_actors::{IngestError, Runtime};
use centinela_model::DeviceId;
use centinela_model::payload::{AgentMessage, MessageKind, RejectReason};

/// A message was refused; the reason is counted and logged by [`deliver`].
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Payload(#[from] RejectReason),
    #[error("the engine is shutting down")]
    Stopped,
    #[error("storage error: {0}")]
    Storage(String),
}

impl Refused {
    /// A bounded label for counters.
    pub fn label(&self) -> &'static str {
        match self {
            Refused::Payload(reason) => reason.as_str(),
            Refused::Stopped => "stopped",
            Refused::Storage(_) => "storage",
        }
    }
}

/// Hands a decoded message (decoded from `payload`) to the runtime and counts the outcome.
pub async fn deliver(
    runtime: &Runtime,
    transport: &str,
    device: DeviceId,
    kind: MessageKind,
    decoded: Result<AgentMessage, RejectReason>,
    payload: &[u8],
) -> Result<(), Refused> {
    let telemetry = runtime.telemetry();
    let result = match decoded {
        Ok(message) => runtime.ingest(device, message).await.map_err(|e| match e {
            IngestError::UnknownDevice => Refused::Payload(RejectReason::UnknownDevice),
            IngestError::Stopped => Refused::Stopped,
            IngestError::Storage(e) => Refused::Storage(e.to_string()),
        }),
        Err(reason) => Err(Refused::Payload(reason)),
    };
    match &result {
        Ok(()) => telemetry.accepted(transport, kind.as_str()),
        Err(refused) => {
            telemetry.refused(transport, refused.label());
            tracing::warn!(%device, transport, kind = kind.as_str(), error = %refused, "Message rejected.");
            if let Refused::Payload(reason) = refused
                && *reason != RejectReason::UnknownDevice
                && let Err(error) = runtime.refused(device, kind, reason, payload).await
            {
                tracing::warn!(%device, %error, "Refused message not kept as a dead letter.");
            }
        }
    }
    result
}
