//! The engine's notion of "now" for what must happen on time (SLA steps, the ends of
//! maintenance windows, the clocks shown in ticket answers). Production reads the system clock.
//!
//! Tests need days of business time to pass in seconds: with the `test-clock` feature (enabled
//! only by the engine's own tests, never in a release build) and `CENTINELA_TEST_CLOCK` naming a
//! file, now is the system clock plus the whole seconds written in that file, re-read on every
//! call, so a test moves time forward by rewriting the file. Without the feature the variable is
//! ignored: there is no way to move a production engine's clock.

use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A source of "now".
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The clock the engine runs on: the system clock, or (tests only) the offset clock.
pub fn engine_clock() -> Arc<dyn Clock> {
    #[cfg(feature = "test-clock")]
    if let Some(path) = std::env::var_os("CENTINELA_TEST_CLOCK") {
        tracing::warn!(path = %std::path::Path::new(&path).display(), "Test clock: now is moved by the seconds in this file.");
        return Arc::new(OffsetFileClock { path: path.into() });
    }
    Arc::new(SystemClock)
}

/// System time plus the seconds written in a file (tests only).
#[cfg(feature = "test-clock")]
#[derive(Debug)]
pub struct OffsetFileClock {
    path: std::path::PathBuf,
}

#[cfg(feature = "test-clock")]
impl Clock for OffsetFileClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .unwrap_or(0);
        Utc::now() + chrono::Duration::seconds(offset)
    }
}
