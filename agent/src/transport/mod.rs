//! Delivering the queue to the engine and receiving commands, over MQTT/TLS or WebSocket.
//!
//! Both transports share one shape: connect, then keep a small window of queue items in
//! flight, and advance the queue head only over the contiguous prefix the server acknowledged
//! (PUBACK or `ack`), so delivery order and at-least-once hold across any disconnect. A lost
//! connection ends the session; the loop here reconnects with exponential backoff and jitter
//! (1 s doubling to 60 s) and the next session resumes from the queue head.

mod backoff;
mod mqtt;
mod ws;

pub use backoff::Backoff;
pub use mqtt::{commands_topic, mqtt_options};

use crate::config::AgentConfig;
use crate::queue::{QueueError, SharedQueue};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Items sent but not yet acknowledged, at most.
pub const WINDOW: usize = 16;
/// A session whose oldest in-flight item sees no acknowledgement for this long is restarted.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// Which transport to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportKind {
    Mqtt,
    Ws,
}

impl TransportKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            TransportKind::Mqtt => "mqtt",
            TransportKind::Ws => "ws",
        }
    }
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("MQTT connection: {0}")]
    Mqtt(Box<rumqttc::ConnectionError>),
    #[error("MQTT client: {0}")]
    MqttClient(#[from] rumqttc::ClientError),
    #[error("WebSocket: {0}")]
    Ws(Box<tokio_tungstenite::tungstenite::Error>),
    #[error("TLS setup: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    #[error("the broker refused the connection: {0}")]
    Refused(String),
    #[error("the connection closed")]
    Closed,
    #[error("no acknowledgement for {0:?}")]
    AckTimeout(Duration),
}

impl From<rumqttc::ConnectionError> for TransportError {
    fn from(error: rumqttc::ConnectionError) -> Self {
        Self::Mqtt(Box::new(error))
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for TransportError {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> Self {
        Self::Ws(Box::new(error))
    }
}

/// Everything a session needs.
#[derive(Clone, Debug)]
pub struct TransportContext {
    pub config: AgentConfig,
    pub config_path: PathBuf,
    pub queue: SharedQueue,
    /// Raw command messages (MQTT payloads, WebSocket `command` frames) go here.
    pub commands: mpsc::Sender<Vec<u8>>,
}

impl TransportContext {
    fn read_file(&self, file: &std::path::Path) -> Result<String, TransportError> {
        let path = AgentConfig::resolve(&self.config_path, file);
        std::fs::read_to_string(&path).map_err(|source| TransportError::ReadFile { path, source })
    }
}

/// The in-flight window: sequences in send order, each marked once acknowledged.
#[derive(Debug, Default)]
pub struct InFlight {
    items: VecDeque<(u64, bool)>,
}

impl InFlight {
    pub fn push(&mut self, seq: u64) {
        self.items.push_back((seq, false));
    }

    /// Marks `seq` acknowledged; returns the highest sequence of the acknowledged prefix if
    /// it grew (what the queue may now forget).
    pub fn ack(&mut self, seq: u64) -> Option<u64> {
        let slot = self.items.iter_mut().find(|(s, _)| *s == seq)?;
        slot.1 = true;
        let mut through = None;
        while let Some((s, true)) = self.items.front().copied() {
            through = Some(s);
            self.items.pop_front();
        }
        through
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn has_room(&self) -> bool {
        self.items.len() < WINDOW
    }
}

/// Announces the first connection on stderr (what scripts and tests wait for) and logs each.
#[derive(Debug)]
pub struct Announcer {
    kind: TransportKind,
    device_key: String,
    announced: bool,
}

impl Announcer {
    fn connected(&mut self) {
        tracing::info!(transport = self.kind.as_str(), "Connected to the engine.");
        if !self.announced {
            self.announced = true;
            eprintln!(
                "agent running: transport={} device_key={}",
                self.kind.as_str(),
                self.device_key
            );
        }
    }
}

/// Runs sessions until `shutdown` turns true, reconnecting with backoff.
pub async fn run(kind: TransportKind, ctx: TransportContext, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let mut announcer = Announcer {
        kind,
        device_key: ctx.config.device_key.clone(),
        announced: false,
    };
    while !*shutdown.borrow() {
        let mut connected = false;
        let result = match kind {
            TransportKind::Mqtt => {
                mqtt::session(&ctx, &mut shutdown, &mut announcer, &mut connected).await
            }
            TransportKind::Ws => {
                ws::session(&ctx, &mut shutdown, &mut announcer, &mut connected).await
            }
        };
        if connected {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        match result {
            Ok(()) => break,
            Err(error) => tracing::warn!(
                transport = kind.as_str(),
                error = %error,
                retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "Connection to the engine lost; reconnecting."
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_advances_only_over_the_acknowledged_prefix() {
        let mut w = InFlight::default();
        for seq in 10..14 {
            w.push(seq);
        }
        assert_eq!(w.ack(12), None, "11 and 10 are still out");
        assert_eq!(w.ack(10), Some(10));
        assert_eq!(w.ack(11), Some(12));
        assert_eq!(w.ack(99), None, "unknown sequence");
        assert_eq!(w.len(), 1);
        assert_eq!(w.ack(13), Some(13));
        assert!(w.is_empty() && w.has_room());
    }
}
