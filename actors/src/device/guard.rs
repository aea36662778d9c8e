//! The device actor's own built-in alerts about the device's input, and its bounds:
//! - `device.clock_skew`: the device sends timestamps outside the accepted window (refused at
//!   decode as `bad_timestamp`). Opened once, on the first such message; cleared by the first
//!   message whose time is accepted again. Its messages keep being refused meanwhile.
//! - `device.alert_storm`: an opening would take the device past `max_firing` firing alerts.
//!   The opening is suppressed (counted on `centinela_alerts_suppressed`) and its series is put
//!   back to `ok`, so that it opens normally later if it still breaches; this one alert opens
//!   instead. While it fires, every new opening of the device is suppressed: no alerts, no
//!   tickets. It clears once the device is down to 80% of the cap (the margin keeps it from
//!   flapping at the edge), and openings resume.
//!
//! Offline alerts and these two are never suppressed: they are one per device.

use super::DeviceActor;
use crate::tenant::{AlertChange, AlertSource, EventTexts};
use actix::prelude::*;
use centinela_model::Severity;
use centinela_model::threshold::{SeriesState, Transition};
use chrono::{DateTime, Utc};

/// Key of the alert of a device whose clock is off.
pub const CLOCK_SKEW_KEY: &str = "device.clock_skew";

/// Key of the alert of a device past its firing-alert cap.
pub const ALERT_STORM_KEY: &str = "device.alert_storm";

/// Per-device bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceLimits {
    /// Distinct series a device may send; points of new series past it are refused.
    pub max_series: usize,
    /// Alerts a device may have firing at once; past it, one `device.alert_storm` instead.
    pub max_firing: usize,
}

impl Default for DeviceLimits {
    fn default() -> Self {
        DeviceLimits {
            max_series: 500,
            max_firing: 50,
        }
    }
}

/// The device's clock is off (`skewed`, with the time it sent) or right again.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClockSkew {
    pub skewed: bool,
    pub device_time: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

impl DeviceActor {
    /// Alerts counted against the cap: everything firing but this module's own alerts.
    fn firing_count(&self) -> usize {
        let events = self
            .events
            .keys()
            .filter(|k| !k.starts_with("device."))
            .count();
        let series = self
            .series
            .values()
            .filter(|e| matches!(e.state, SeriesState::Firing { .. }))
            .count();
        events + series
    }

    /// Whether one more alert may open now; when not, the storm alert opens (once) instead.
    pub(super) fn admit_opening(&mut self, at: DateTime<Utc>) -> bool {
        let storming = self.events.contains_key(ALERT_STORM_KEY);
        if !storming && self.firing_count() < self.limits.max_firing {
            return true;
        }
        self.telemetry.alerts_suppressed.inc();
        if !storming {
            self.telemetry.alert_storms.inc();
            tracing::warn!(device_id = %self.identity.id, cap = self.limits.max_firing, "Device past its firing-alert cap: further openings suppressed.");
            let name = &self.identity.name;
            let cap = self.limits.max_firing;
            let texts = EventTexts {
                title: format!("Tormenta de alertas en {name}"),
                description: format!(
                    "El equipo {name} llegó a {cap} alertas activas; las nuevas alertas de este \
                     equipo se suprimen (sin tickets) hasta que baje de {} activas.",
                    self.storm_clears_at()
                ),
                recommended_action: "Revise los umbrales que aplican a este equipo y las series \
                    que envía (etiquetas que cambian en cada envío multiplican las alertas); \
                    atienda las alertas activas."
                    .to_owned(),
                auto_ticket: false,
            };
            self.open_event(ALERT_STORM_KEY, Severity::Critical, texts, cap as f64, at);
        }
        false
    }

    fn storm_clears_at(&self) -> usize {
        self.limits.max_firing - self.limits.max_firing / 5
    }

    /// Clears the storm alert once the device is back under the cap, with a margin.
    pub(super) fn end_storm_if_over(&mut self, at: DateTime<Utc>) {
        if self.events.contains_key(ALERT_STORM_KEY)
            && self.firing_count() <= self.storm_clears_at()
        {
            let value = self.firing_count() as f64;
            self.clear_event(ALERT_STORM_KEY, value, at);
        }
    }

    fn open_event(
        &mut self,
        key: &str,
        severity: Severity,
        texts: EventTexts,
        value: f64,
        at: DateTime<Utc>,
    ) {
        self.events.insert(key.to_owned(), severity);
        self.raise(AlertChange::new(
            self.identity.clone(),
            key.to_owned(),
            AlertSource::Event(texts),
            Transition::Opened { severity, value },
            at,
        ));
    }

    fn clear_event(&mut self, key: &str, value: f64, at: DateTime<Utc>) {
        if self.events.remove(key).is_some() {
            self.raise(AlertChange::new(
                self.identity.clone(),
                key.to_owned(),
                AlertSource::Event(EventTexts::default()),
                Transition::Cleared { value },
                at,
            ));
        }
    }
}

impl Handler<ClockSkew> for DeviceActor {
    type Result = ();
    fn handle(&mut self, msg: ClockSkew, ctx: &mut Context<Self>) {
        let firing = self.events.contains_key(CLOCK_SKEW_KEY);
        if msg.skewed && !firing {
            let name = &self.identity.name;
            let sent = msg
                .device_time
                .map_or_else(|| "desconocida".to_owned(), |t| t.to_rfc3339());
            let texts = EventTexts {
                title: format!("Reloj desfasado en {name}"),
                description: format!(
                    "El equipo {name} envía datos con una hora fuera del intervalo aceptado \
                     (hora del equipo: {sent}; hora del servidor: {}). Sus datos se rechazan \
                     hasta que su reloj se corrija.",
                    msg.at.to_rfc3339()
                ),
                recommended_action: "Corrija la fecha y hora del equipo y active la \
                    sincronización por NTP; revise la pila del reloj si se desajusta al \
                    reiniciar."
                    .to_owned(),
                auto_ticket: false,
            };
            self.open_event(CLOCK_SKEW_KEY, Severity::Warning, texts, 1.0, msg.at);
        } else if !msg.skewed && firing {
            self.clear_event(CLOCK_SKEW_KEY, 0.0, msg.at);
        }
        self.publish_health_if_changed();
        self.send_alerts(ctx);
    }
}
