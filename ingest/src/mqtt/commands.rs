//! Commands to agents over MQTT: a second local link of the broker publishes each signed
//! command on `/tenants/{device_key}/commands`. rumqttd's local `publish` blocks, so it runs on
//! its own thread fed by a bounded channel; a full channel refuses the command (counted by the
//! caller as not delivered) rather than blocking an HTTP worker.

use centinela_actors::CommandSink;
use centinela_model::DeviceId;
use rumqttd::Notification;
use rumqttd::local::{LinkRx, LinkTx};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

/// Commands waiting for the publisher thread.
const QUEUE: usize = 1024;

/// The MQTT [`CommandSink`].
#[derive(Clone)]
pub struct MqttCommands {
    tx: SyncSender<(String, String)>,
}

impl std::fmt::Debug for MqttCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MqttCommands")
    }
}

impl CommandSink for MqttCommands {
    fn deliver(&self, device: DeviceId, message: &str) -> bool {
        let topic = format!("/tenants/{}/commands", device.key());
        match self.tx.try_send((topic, message.to_owned())) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!(device_id = %device.0, "MQTT command queue full; command not sent.");
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// Starts the publisher thread over a dedicated link.
pub fn spawn(mut link_tx: LinkTx, mut link_rx: LinkRx) -> std::io::Result<MqttCommands> {
    let (tx, rx) = sync_channel::<(String, String)>(QUEUE);
    std::thread::Builder::new()
        .name("mqtt-commands".into())
        .spawn(move || {
            while let Ok((topic, payload)) = rx.recv() {
                if let Err(error) = link_tx.publish(topic, payload) {
                    tracing::error!(%error, "MQTT command not published.");
                }
            }
        })?;
    // The link subscribes to nothing, but its receiving half must be served (and woken when
    // the router unschedules it) for the link to stay alive.
    tokio::spawn(async move {
        loop {
            match link_rx.next().await {
                Ok(Some(Notification::Unschedule)) => {
                    if link_rx.wake().await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    Ok(MqttCommands { tx })
}
