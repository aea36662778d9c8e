//! Micro-benchmarks of the per-message hot paths.

use centinela_model::payload::{MessageKind, decode};
use centinela_model::threshold::{Op, Rule, SeriesState, step};
use centinela_routeros::codec::{Decoder, Reply, Sentence};
use centinela_storage::metrics::{MetricRow, encode_copy};
use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use uuid::Uuid;

fn payload_decode(c: &mut Criterion) {
    let body = br#"{"ts":"2026-11-22T10:00:00Z","metrics":{"cpu.usage_pct":93.5,"mem.used_pct":71.2,"disk.used_pct{mount=C:}":88.0,"net.rx_bps":1200.0,"net.tx_bps":800.0,"load.1m":0.7,"proc.count":212,"uptime.s":86400,"cpu.temp_c":55.0,"swap.used_pct":3.0}}"#;
    let now = "2026-11-22T10:00:00Z".parse().unwrap();
    let limits = centinela_model::payload::DecodeLimits::default();
    c.bench_function("decode telemetry, 10 metrics", |b| {
        b.iter(|| decode(MessageKind::Telemetry, black_box(body), &limits, now).unwrap())
    });
}

fn threshold_step(c: &mut Criterion) {
    let rule = Rule::new(Op::Gt, Some(80.0), Some(90.0), 0, 5.0).unwrap();
    let now = Utc::now();
    c.bench_function("threshold step", |b| {
        let mut state = SeriesState::Ok;
        let mut v = 0.0;
        b.iter(|| {
            v = (v + 7.3) % 100.0;
            state = step(state, &rule, black_box(v), now).0;
        })
    });
}

fn copy_encoder(c: &mut Criterion) {
    let rows: Vec<MetricRow> = (0..5000)
        .map(|i| MetricRow {
            ts: Utc::now(),
            tenant_id: Uuid::new_v4(),
            device_id: Uuid::new_v4(),
            name: "cpu.usage_pct".into(),
            value: i as f64,
        })
        .collect();
    let mut buf = Vec::with_capacity(1 << 20);
    c.bench_function("COPY encode 5000 rows", |b| {
        b.iter(|| {
            buf.clear();
            encode_copy(black_box(&rows), &mut buf);
        })
    });
}

/// A `/interface/print` answer of 100 interfaces, as bytes, decoded sentence by sentence.
fn routeros_codec(c: &mut Criterion) {
    let mut wire = Vec::new();
    for i in 0..100 {
        Reply::re()
            .with_tag(Some(b"7"))
            .attr(".id", format!("*{i:X}"))
            .attr("name", format!("ether{i}"))
            .attr("type", "ether")
            .attr("rx-byte", "194632346152")
            .attr("tx-byte", "15355309685")
            .attr("running", "true")
            .attr("disabled", "false")
            .to_sentence()
            .encode(&mut wire);
    }
    Sentence::new()
        .word("!done")
        .word(".tag=7")
        .encode(&mut wire);
    c.bench_function("RouterOS decode 101 reply sentences", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new();
            decoder.feed(black_box(&wire));
            let mut n = 0;
            while let Ok(Some(sentence)) = decoder.next_sentence() {
                n += Reply::parse(&sentence).map_or(0, |r| r.attributes.len());
            }
            n
        })
    });
}

criterion_group!(
    hot_paths,
    payload_decode,
    threshold_step,
    copy_encoder,
    routeros_codec
);
criterion_main!(hot_paths);
