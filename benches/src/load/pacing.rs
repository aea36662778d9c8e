//! Rate pacing. A sender asks, at each tick, how many messages are due since it started; a late
//! tick (or a sender held back by backpressure) catches up, so the schedule, not the sender's
//! luck, decides the offered load.

use std::time::Duration;

/// Total messages due after `elapsed` at `rate_per_s` (messages per second), counting from an
/// offset `phase` in `[0, 1)` of one period, so that many senders at the same rate do not fire
/// in lockstep.
pub fn due(rate_per_s: f64, elapsed: Duration, phase: f64) -> u64 {
    if rate_per_s.is_nan() || rate_per_s <= 0.0 {
        return 0;
    }
    let exact = rate_per_s * elapsed.as_secs_f64() + phase.clamp(0.0, 0.999_999);
    exact.floor() as u64
}

/// The schedule of one sender.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate_per_s: f64,
    phase: f64,
    taken: u64,
}

impl Pacer {
    /// A sender at `rate_per_s` messages per second with the given phase offset.
    pub fn new(rate_per_s: f64, phase: f64) -> Pacer {
        Pacer {
            rate_per_s,
            phase,
            taken: 0,
        }
    }

    /// Messages to send now: those due by `elapsed` that were not taken yet.
    pub fn take(&mut self, elapsed: Duration) -> u64 {
        let now_due = due(self.rate_per_s, elapsed, self.phase);
        let n = now_due.saturating_sub(self.taken);
        self.taken += n;
        n
    }

    /// How long to sleep between ticks: one period, kept between 2 ms and 250 ms (a slow sender
    /// still wakes four times a second to notice the end of its phase).
    pub fn tick(&self) -> Duration {
        if self.rate_per_s.is_nan() || self.rate_per_s <= 0.0 {
            return Duration::from_millis(250);
        }
        Duration::from_secs_f64(1.0 / self.rate_per_s)
            .clamp(Duration::from_millis(2), Duration::from_millis(250))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_follows_the_rate_and_the_phase() {
        assert_eq!(due(10.0, Duration::ZERO, 0.0), 0);
        assert_eq!(due(10.0, Duration::from_millis(99), 0.0), 0);
        assert_eq!(due(10.0, Duration::from_millis(100), 0.0), 1);
        assert_eq!(due(10.0, Duration::from_secs(3), 0.0), 30);
        // Half a period ahead: the first message goes at once.
        assert_eq!(due(10.0, Duration::ZERO, 0.5), 0);
        assert_eq!(due(10.0, Duration::from_millis(50), 0.5), 1);
        assert_eq!(due(0.0, Duration::from_secs(5), 0.0), 0);
        assert_eq!(due(f64::NAN, Duration::from_secs(5), 0.0), 0);
    }

    #[test]
    fn a_late_tick_catches_up_and_nothing_is_taken_twice() {
        let mut pacer = Pacer::new(1000.0, 0.0);
        assert_eq!(pacer.take(Duration::from_millis(10)), 10);
        assert_eq!(pacer.take(Duration::from_millis(10)), 0);
        // 490 ms of silence (backpressure): the backlog is offered at the next tick.
        assert_eq!(pacer.take(Duration::from_millis(500)), 490);
        let total: u64 = (1..=1000)
            .map(|ms| pacer.take(Duration::from_millis(500 + ms)))
            .sum();
        assert_eq!(total, 1000);
    }

    #[test]
    fn ticks_are_bounded() {
        assert_eq!(Pacer::new(10.0, 0.0).tick(), Duration::from_millis(100));
        assert_eq!(Pacer::new(1e6, 0.0).tick(), Duration::from_millis(2));
        assert_eq!(Pacer::new(0.1, 0.0).tick(), Duration::from_millis(250));
    }
}
