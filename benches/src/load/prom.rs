//! One value out of the engine's Prometheus text exposition (`GET /metrics`).

/// The value of the first sample named exactly `name` (labels ignored, summed over label sets
/// when `sum` is set).
pub fn value(text: &str, name: &str, sum: bool) -> Option<f64> {
    let mut total = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let rest = match rest.as_bytes().first() {
            Some(b' ') => rest,
            Some(b'{') => match rest.find('}') {
                Some(end) => &rest[end + 1..],
                None => continue,
            },
            _ => continue,
        };
        let Some(v) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        if !sum {
            return Some(v);
        }
        total = Some(total.unwrap_or(0.0) + v);
    }
    total
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_plain_and_labelled_samples() {
        let text = "# HELP centinela_points_stored Metric points committed\n\
                    # TYPE centinela_points_stored counter\n\
                    centinela_points_stored_total 1234\n\
                    centinela_points_stored_totalx 9\n\
                    centinela_alerts_total{event=\"opened\"} 3\n\
                    centinela_alerts_total{event=\"cleared\"} 2\n\
                    centinela_device_actors 100000\n";
        assert_eq!(
            super::value(text, "centinela_points_stored_total", false),
            Some(1234.0)
        );
        assert_eq!(
            super::value(text, "centinela_alerts_total", true),
            Some(5.0)
        );
        assert_eq!(
            super::value(text, "centinela_device_actors", false),
            Some(100000.0)
        );
        assert_eq!(super::value(text, "centinela_missing", false), None);
    }
}
