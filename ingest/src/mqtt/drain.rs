//! Shutdown of the MQTT path without losing what was acknowledged. rumqttd acknowledges a QoS 1
//! publish once its router has appended it to the in-memory log, before the engine has read it;
//! so at SIGTERM the broker must first stop reading from publishers (the flow gate, shut for
//! good) and the consumer must then take everything the log still holds for it.

use super::BrokerHandle;
use std::time::Duration;
use tokio::time::Instant;

/// How often the drain looks at the consumer's progress.
const POLL: Duration = Duration::from_millis(50);

/// Consecutive quiet polls (nothing unread, nothing in hand, nothing handled) that mean the
/// consumer has caught up: a message forwarded by the router but not yet taken by the consumer
/// shows as progress within one poll.
const QUIET_POLLS: u32 = 3;

impl BrokerHandle {
    /// Stops reading from publishers (nothing more is acknowledged), then waits until the
    /// consumer has handed every acknowledged message to the runtime, or until `limit`.
    /// Returns the bytes the consumer had not read when it gave up (0 when drained).
    pub async fn stop_and_drain(&self, limit: Duration) -> u64 {
        self.gate.shut();
        let deadline = Instant::now() + limit;
        let mut last = self.progress.handled();
        let mut quiet = 0;
        loop {
            tokio::time::sleep(POLL).await;
            let handled = self.progress.handled();
            let idle = self.gate.unread_bytes() == 0 && !self.progress.busy() && handled == last;
            quiet = if idle { quiet + 1 } else { 0 };
            last = handled;
            if quiet >= QUIET_POLLS {
                return 0;
            }
            if Instant::now() >= deadline {
                // A message in hand has not reached the runtime either.
                return self
                    .gate
                    .unread_bytes()
                    .max(u64::from(self.progress.busy()));
            }
        }
    }

    /// Bytes acknowledged by the broker and not yet read by the engine.
    pub fn unread_bytes(&self) -> u64 {
        self.gate.unread_bytes()
    }
}
