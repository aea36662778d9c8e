//! A `/ws/noc` subscriber that times alerts: a breaching sample carries `ts` = its publish
//! instant, the alert it opens has `opened_at` = that `ts`, so the latency of an alert is the
//! instant its `opened` event arrives here minus `opened_at` (generator and engine share the
//! machine's clock). Latencies go into an HDR histogram in microseconds.

use anyhow::{Context, Result};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio_tungstenite::tungstenite::Message;

/// Longest latency the histogram holds: one hour, in µs.
const MAX_MICROS: u64 = 3_600_000_000;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// A new latency histogram (1 µs to 1 h, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// The subscriber. It runs on a thread and runtime of its own, like a dashboard in another
/// process: on the generator's runtime its receive instants would wait behind a thousand
/// publishing tasks, and the generator's scheduling would be timed as the engine's latency.
#[derive(Debug)]
pub struct Noc {
    hist: Arc<Mutex<Histogram<u64>>>,
    /// Every `alert opened` event of our metrics seen since the start.
    pub opened: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Noc {
    /// Connects with a user's access token; only alerts of `metrics` are timed (not, say, an
    /// agent going offline).
    pub async fn connect(http: SocketAddr, token: &str, metrics: &[String]) -> Result<Noc> {
        let url = format!("ws://{http}/ws/noc?access_token={token}");
        let hist = Arc::new(Mutex::new(histogram()));
        let opened = Arc::new(AtomicU64::new(0));
        let names: HashSet<String> = metrics.iter().cloned().collect();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<()>>();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (h, o) = (hist.clone(), opened.clone());
        std::thread::Builder::new()
            .name("noc-subscriber".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let mut ws = match tokio_tungstenite::connect_async(url).await {
                        Ok((ws, _)) => ws,
                        Err(error) => {
                            let _ = ready_tx
                                .send(Err(anyhow::Error::from(error).context("connect /ws/noc")));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    loop {
                        let msg = tokio::select! {
                            msg = ws.next() => msg,
                            _ = &mut stop_rx => return,
                        };
                        let Some(Ok(msg)) = msg else { return };
                        let Message::Text(text) = msg else { continue };
                        let now = crate::load::fleet::now_micros();
                        if let Some(opened_at) = opened_alert(&text, &names) {
                            o.fetch_add(1, Ordering::Relaxed);
                            let latency = (now - opened_at).clamp(1, MAX_MICROS as i64) as u64;
                            let _ = h.lock().expect("histogram").record(latency);
                        }
                    }
                });
            })
            .context("start the NOC subscriber thread")?;
        ready_rx
            .await
            .context("the NOC subscriber thread ended")??;
        Ok(Noc {
            hist,
            opened,
            stop: Some(stop_tx),
        })
    }

    /// The latencies recorded since the last call, and a fresh histogram.
    pub fn take(&self) -> Histogram<u64> {
        std::mem::replace(&mut *self.hist.lock().expect("histogram"), histogram())
    }

    pub fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `opened_at` in µs when the frame is an `alert opened` event of one of `names`.
pub fn opened_alert(text: &str, names: &HashSet<String>) -> Option<i64> {
    // Most frames (health, cleared) are skipped before parsing.
    if !text.contains("\"opened\"") {
        return None;
    }
    let frame: serde_json::Value = serde_json::from_str(text).ok()?;
    if frame["type"] != "alert" || frame["event"] != "opened" {
        return None;
    }
    let alert = &frame["alert"];
    if !names.contains(alert["key"].as_str()?) {
        return None;
    }
    let opened_at = chrono::DateTime::parse_from_rfc3339(alert["opened_at"].as_str()?).ok()?;
    Some(opened_at.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_opened_alerts_of_our_metrics_are_timed() {
        let names: HashSet<String> = ["cpu.usage_pct".to_owned()].into_iter().collect();
        let frame = |event: &str, key: &str| {
            serde_json::json!({"type": "alert", "event": event, "alert": {
                "key": key, "opened_at": "2026-11-22T10:00:00.000250Z"}})
            .to_string()
        };
        assert_eq!(
            opened_alert(&frame("opened", "cpu.usage_pct"), &names),
            Some(1_795_341_600_000_250)
        );
        assert_eq!(
            opened_alert(&frame("cleared", "cpu.usage_pct"), &names),
            None
        );
        assert_eq!(
            opened_alert(&frame("opened", "agent.offline"), &names),
            None
        );
        let mut h = histogram();
        for us in [1_000u64, 2_000, 3_000, 40_000] {
            h.record(us).unwrap();
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 4);
        assert!((l.max_ms - 40.0).abs() < 0.1 && (l.p50_ms - 2.0).abs() < 0.01);
    }
}
