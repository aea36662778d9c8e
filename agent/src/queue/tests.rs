//! Unit tests of the on-disk queue: order, restart recovery, torn writes, the size bound.

use super::*;
use crate::message::ItemKind;
use serde_json::json;

fn item(n: u64) -> QueuedItem {
    QueuedItem::new(
        ItemKind::Telemetry,
        json!({"ts": format!("2026-01-01T00:00:{:02}Z", n % 60), "metrics": {"n": n}}),
    )
}

fn n_of(entry: &(u64, QueuedItem)) -> u64 {
    entry.1.body["metrics"]["n"].as_u64().unwrap_or(u64::MAX)
}

fn open(dir: &Path) -> DiskQueue {
    DiskQueue::open(dir, DEFAULT_MAX_BYTES).expect("open")
}

#[test]
fn delivers_in_order_and_forgets_acked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut q = open(dir.path());
    for n in 0..10 {
        assert_eq!(q.push(item(n)).expect("push"), n);
    }
    let first = q.read_from(0, 4).expect("read");
    assert_eq!(first.iter().map(n_of).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    q.ack_through(3).expect("ack");
    assert_eq!(q.len(), 6);
    let rest = q.read_from(0, 100).expect("read");
    assert_eq!(
        rest.iter().map(n_of).collect::<Vec<_>>(),
        (4..10).collect::<Vec<_>>()
    );
    // A stale (lower) ack changes nothing.
    q.ack_through(1).expect("stale ack");
    assert_eq!(q.head(), 4);
    q.ack_through(9).expect("ack all");
    assert!(q.is_empty());
    assert_eq!(q.bytes(), 0, "fully acknowledged segments are deleted");
}

#[test]
fn restart_keeps_unacked_items_with_original_timestamps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = {
        let mut q = open(dir.path());
        q.push_batch((0..5).map(item).collect()).expect("batch");
        q.ack_through(1).expect("ack");
        q.read_from(0, 10).expect("read")
    };
    let mut q = open(dir.path());
    assert_eq!(q.head(), 2);
    assert_eq!(q.len(), 3);
    let replay = q.read_from(0, 10).expect("read");
    assert_eq!(replay, original);
    // Sequence numbers continue after a restart.
    assert_eq!(q.push(item(5)).expect("push"), 5);
}

#[test]
fn torn_last_line_is_ignored_and_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut q = open(dir.path());
        q.push_batch((0..3).map(item).collect()).expect("batch");
    }
    let seg = segment::segment_path(dir.path(), 0);
    let mut bytes = std::fs::read(&seg).expect("read segment");
    bytes.extend_from_slice(br#"{"seq":3,"kind":"telemetry","bo"#);
    std::fs::write(&seg, bytes).expect("tear");
    let mut q = open(dir.path());
    assert_eq!(q.len(), 3);
    assert_eq!(q.push(item(3)).expect("push after tear"), 3);
    drop(q);
    let mut q = open(dir.path());
    let all = q.read_from(0, 10).expect("read");
    assert_eq!(all.iter().map(n_of).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
}

#[test]
fn over_the_bound_drops_oldest_and_counts_across_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let max = 4096;
    let mut q = DiskQueue::open(dir.path(), max).expect("open");
    for n in 0..200 {
        q.push(item(n)).expect("push");
        assert!(q.bytes() <= max, "bound kept after item {n}");
    }
    let dropped = q.dropped_total();
    assert!(dropped > 0);
    assert_eq!(q.len() + dropped, 200);
    let kept = q.read_from(0, 1000).expect("read");
    let numbers: Vec<u64> = kept.iter().map(n_of).collect();
    // The newest survive, contiguous and in order.
    assert_eq!(numbers.last(), Some(&199));
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(numbers.first(), Some(&dropped));
    drop(q);
    let mut q = DiskQueue::open(dir.path(), max).expect("reopen");
    assert_eq!(q.dropped_total(), dropped);
    assert_eq!(q.take_dropped_unreported().expect("take"), dropped);
    assert_eq!(q.take_dropped_unreported().expect("take again"), 0);
}

#[test]
fn refused_items_are_counted_and_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut q = open(dir.path());
    q.push_batch((0..3).map(item).collect()).expect("batch");
    q.count_refused(0).expect("refuse");
    q.ack_through(0).expect("ack");
    assert_eq!(q.dropped_total(), 1);
    assert_eq!(q.read_from(0, 10).expect("read").first().map(n_of), Some(1));
}

#[test]
fn reads_across_segments_and_after_full_ack() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Small segments (1/8 of the bound) force several files.
    let mut q = DiskQueue::open(dir.path(), 64 * 1024).expect("open");
    for n in 0..300 {
        q.push(item(n)).expect("push");
    }
    assert_eq!(q.dropped_total(), 0);
    let segments = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| segment::parse_segment_name(&e.path()).is_some())
        })
        .count();
    assert!(segments > 1, "expected several segments, got {segments}");
    let mut seen = Vec::new();
    let mut from = 0;
    loop {
        let batch = q.read_from(from, 17).expect("read");
        let Some(last) = batch.last().map(|e| e.0) else {
            break;
        };
        seen.extend(batch.iter().map(n_of));
        q.ack_through(last).expect("ack");
        from = last + 1;
    }
    assert_eq!(seen, (0..300).collect::<Vec<_>>());
    assert!(q.is_empty());
    assert_eq!(q.push(item(300)).expect("push"), 300);
    let mut q = open(dir.path());
    assert_eq!(
        q.read_from(0, 10)
            .expect("read")
            .iter()
            .map(n_of)
            .collect::<Vec<_>>(),
        vec![300]
    );
}

#[test]
fn lost_state_file_redelivers_everything_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut q = open(dir.path());
        q.push_batch((0..4).map(item).collect()).expect("batch");
    }
    std::fs::remove_file(dir.path().join(STATE_FILE)).expect("remove state");
    let q = open(dir.path());
    assert_eq!((q.head(), q.len()), (0, 4));
}

#[tokio::test]
async fn shared_queue_wakes_the_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = SharedQueue::new(open(dir.path()));
    let reader = shared.clone();
    let waiter = tokio::spawn(async move {
        reader.appended().await;
        reader.read_from(0, 10).await
    });
    shared.push(item(1)).await.expect("push");
    let got = waiter.await.expect("join").expect("read");
    assert_eq!(got.len(), 1);
    shared.ack_through(0).await.expect("ack");
    assert_eq!(shared.len().await.expect("len"), 0);
}
