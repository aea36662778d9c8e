//! Reconnect delays: exponential with jitter, so a fleet that lost the engine at the same
//! moment does not reconnect in lockstep when it comes back.

use rand::Rng;
use std::time::Duration;

/// Exponential backoff: each delay is drawn from [d/2, d] where d doubles from `base` up to
/// `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    /// The ceiling of the next delay, before jitter.
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(16));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The next delay (and moves on to the following one).
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let low = ceiling / 2;
        let span = u64::try_from((ceiling - low).as_millis()).unwrap_or(u64::MAX);
        low + Duration::from_millis(rand::rng().random_range(0..=span))
    }

    /// After a successful connection the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut ceilings = Vec::new();
        for _ in 0..9 {
            let ceiling = b.ceiling();
            let delay = b.next_delay();
            assert!(
                delay <= ceiling && delay >= ceiling / 2,
                "{delay:?} vs {ceiling:?}"
            );
            ceilings.push(ceiling.as_secs());
        }
        assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_secs(1));
    }
}
