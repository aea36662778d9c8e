//! Rates from monotonically increasing counters (interface bytes and packets), with wrap and
//! reset told apart.
//!
//! RouterOS reports 64-bit counters that restart from zero when the router reboots or the
//! counters are reset; some interfaces (and SNMP-style sources) use 32-bit counters that wrap.
//! A decrease is read as a 32-bit wrap only when the previous value fitted in 32 bits and the
//! wrapped delta is plausible (less than half the 32-bit range); anything else is a reset, for
//! which no rate is reported for that interval rather than a huge or negative spike.

/// The increase from `prev` to `cur`, or `None` when the counter was reset.
pub fn counter_delta(prev: u64, cur: u64) -> Option<u64> {
    if cur >= prev {
        return Some(cur - prev);
    }
    const RANGE_32: u64 = 1 << 32;
    if prev < RANGE_32 {
        let wrapped = RANGE_32 - prev + cur;
        if wrapped < RANGE_32 / 2 {
            return Some(wrapped);
        }
    }
    None
}

/// Bits per second between two byte-counter readings `seconds` apart.
pub fn bits_per_second(prev_bytes: u64, cur_bytes: u64, seconds: f64) -> Option<f64> {
    if seconds.is_nan() || seconds <= 0.0 || !seconds.is_finite() {
        return None;
    }
    counter_delta(prev_bytes, cur_bytes).map(|delta| delta as f64 * 8.0 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_wraps_and_resets() {
        let cases = [
            (100, 150, Some(50)),
            (0, 0, Some(0)),
            (u32::MAX as u64 - 9, 10, Some(20)), // 32-bit wrap
            (194_632_346_152, 1_000, None),      // 64-bit counter after a reboot
            (1_000_000_000, 5, None),            // implausible wrap: a reset
            (u64::MAX - 5, u64::MAX, Some(5)),
        ];
        for (prev, cur, want) in cases {
            assert_eq!(counter_delta(prev, cur), want, "{prev} → {cur}");
        }
    }

    #[test]
    fn rates_in_bits_per_second() {
        assert_eq!(bits_per_second(1_000, 2_000, 2.0), Some(4_000.0));
        assert_eq!(bits_per_second(1_000, 2_000, 0.0), None);
        assert_eq!(bits_per_second(5_000_000_000, 10, 1.0), None);
    }
}
