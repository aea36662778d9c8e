//! Telemetry bodies, written into a reused buffer without allocating: `{"ts":"…","metrics":{…}}`
//! (MQTT) or the same with `"type":"telemetry","id":…` (`/ws/agent`). `ts` is the publish instant
//! with microseconds; it identifies the message (device, ts) in the database and it is the
//! `opened_at` of the alert a breaching value opens.

use std::io::Write;

/// Metric names of the default workload (an agent's usual ten); more are numbered.
pub const METRIC_NAMES: [&str; 10] = [
    "cpu.usage_pct",
    "mem.used_pct",
    "disk.used_pct",
    "swap.used_pct",
    "cpu.temp_c",
    "load.1m",
    "net.rx_mbps",
    "net.tx_mbps",
    "proc.count",
    "disk.io_pct",
];

/// The first `n` metric names.
pub fn metric_names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match METRIC_NAMES.get(i) {
            Some(name) => (*name).to_owned(),
            None => format!("bench.m{i}"),
        })
        .collect()
}

/// The value a breaching sample carries (rules are `> 90`).
pub const BREACH_VALUE: u32 = 95;

/// One sender's generator: its metric names, breach probability and a small PRNG.
#[derive(Debug, Clone)]
pub struct Generator {
    names: Vec<String>,
    breach: f64,
    state: u64,
}

impl Generator {
    pub fn new(names: Vec<String>, breach: f64, seed: u64) -> Generator {
        Generator {
            names,
            breach: breach.clamp(0.0, 1.0),
            // xorshift must not start at zero.
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Writes one body into `buf` (cleared first); `ws_id` adds the `/ws/agent` envelope.
    /// Returns how many values breach.
    pub fn write(&mut self, buf: &mut Vec<u8>, ts_micros: i64, ws_id: Option<i64>) -> u32 {
        buf.clear();
        buf.push(b'{');
        if let Some(id) = ws_id {
            let _ = write!(buf, "\"type\":\"telemetry\",\"id\":{id},");
        }
        buf.extend_from_slice(b"\"ts\":\"");
        write_rfc3339_micros(buf, ts_micros);
        buf.extend_from_slice(b"\",\"metrics\":{");
        let mut breaches = 0;
        for i in 0..self.names.len() {
            let value = if self.unit() < self.breach {
                breaches += 1;
                BREACH_VALUE
            } else {
                10 + (self.next_u64() % 71) as u32
            };
            if i > 0 {
                buf.push(b',');
            }
            buf.push(b'"');
            buf.extend_from_slice(self.names[i].as_bytes());
            let _ = write!(buf, "\":{value}");
        }
        buf.extend_from_slice(b"}}");
        breaches
    }
}

/// Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` for microseconds since the Unix epoch (civil-from-days,
/// H. Hinnant), without chrono's formatting machinery.
pub fn write_rfc3339_micros(buf: &mut Vec<u8>, micros: i64) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        buf,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn timestamps_match_chrono() {
        for micros in [
            0i64,
            1_700_000_000_123_456,
            951_782_400_000_001, // 2000-02-29
            4_102_444_799_999_999,
            -1,
        ] {
            let mut buf = Vec::new();
            write_rfc3339_micros(&mut buf, micros);
            let ours = String::from_utf8(buf).unwrap();
            let theirs = DateTime::<Utc>::from_timestamp_micros(micros)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn bodies_are_valid_telemetry_with_the_requested_breaches() {
        let names = metric_names(12);
        assert_eq!(names[0], "cpu.usage_pct");
        assert_eq!(names[11], "bench.m11");
        let mut g = Generator::new(names, 0.1, 7);
        let mut buf = Vec::new();
        let (mut breaches, mut values) = (0u32, 0u32);
        for i in 0..2000 {
            breaches += g.write(&mut buf, 1_700_000_000_000_000 + i, None);
            let body: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            let metrics = body["metrics"].as_object().unwrap();
            assert_eq!(metrics.len(), 12);
            for v in metrics.values() {
                let v = v.as_u64().unwrap();
                assert!(v == 95 || (10..=80).contains(&v), "{v}");
                values += 1;
            }
        }
        let fraction = f64::from(breaches) / f64::from(values);
        assert!((0.08..0.12).contains(&fraction), "{fraction}");
        g.write(&mut buf, 5, Some(5));
        let body: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(body["type"], "telemetry");
        assert_eq!(body["id"], 5);
        assert_eq!(body["ts"], "1970-01-01T00:00:00.000005Z");
        let decoded = centinela_model::payload::decode(
            centinela_model::payload::MessageKind::Telemetry,
            &buf,
            &centinela_model::payload::DecodeLimits::default(),
            // The body's own time, so the timestamp window holds.
            chrono::DateTime::from_timestamp_micros(5).unwrap(),
        );
        assert!(decoded.is_ok());
    }
}
