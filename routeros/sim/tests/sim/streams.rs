//! Streaming commands: `/log/listen`, `print =follow=`, `monitor-traffic`, and `/cancel` order.

use centinela_routeros::codec::{ReplyKind, Request};
use centinela_routeros_sim::RouterVersion;

use crate::common::{Raw, client, config, sim, text};

/// An empty log buffer.
const NO_LOG: &str = "log = []";

/// Waits until every command sent so far on `raw` was dispatched (streams subscribed).
async fn sync(raw: &mut Raw) {
    raw.send(&["/system/identity/print", ".tag=sync"]).await;
    let replies = raw.until_done(Some("sync")).await;
    assert!(
        replies
            .iter()
            .all(|r| r.tag.as_deref() == Some(&b"sync"[..])),
        "{replies:?}"
    );
}

/// Logs `login failure for user admin from 127.0.0.1 via api` through a second connection.
async fn failed_login(handle: &centinela_routeros_sim::SimHandle) {
    let mut other = Raw::connect(handle).await;
    other
        .send(&["/login", "=name=admin", "=password=wrong"])
        .await;
    assert_eq!(other.reply().await.kind, ReplyKind::Trap);
}

#[tokio::test]
async fn listen_then_cancel_with_tag_in_router_order() {
    let handle = sim(config(RouterVersion::V7_16, NO_LOG)).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&["/log/listen", ".tag=l1"]).await;
    sync(&mut raw).await;
    failed_login(&handle).await;
    let row = raw.reply().await;
    assert_eq!(
        (row.kind, row.tag.as_deref()),
        (ReplyKind::Re, Some(&b"l1"[..]))
    );
    assert_eq!(
        text(&row, "message"),
        "login failure for user admin from 127.0.0.1 via api"
    );
    assert_eq!(text(&row, "topics"), "system,error,critical");
    assert!(text(&row, ".id").starts_with('*'));
    raw.send(&["/cancel", "=tag=l1", ".tag=c1"]).await;
    assert_eq!(
        raw.words().await,
        ["!trap", ".tag=l1", "=category=2", "=message=interrupted"]
    );
    assert_eq!(raw.words().await, ["!done", ".tag=c1"]);
    assert_eq!(raw.words().await, ["!done", ".tag=l1"]);
    // The session goes on.
    raw.send(&["/system/identity/print", ".tag=i"]).await;
    assert_eq!(raw.words().await, ["!re", ".tag=i", "=name=MikroTik"]);
}

#[tokio::test]
async fn untagged_cancel_interrupts_every_stream() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&["/log/listen", ".tag=a"]).await;
    raw.send(&["/interface/listen", ".tag=b"]).await;
    raw.send(&["/cancel"]).await;
    assert_eq!(
        raw.words().await,
        ["!trap", ".tag=a", "=category=2", "=message=interrupted"]
    );
    assert_eq!(
        raw.words().await,
        ["!trap", ".tag=b", "=category=2", "=message=interrupted"]
    );
    assert_eq!(raw.words().await, ["!done"]);
    assert_eq!(raw.words().await, ["!done", ".tag=a"]);
    assert_eq!(raw.words().await, ["!done", ".tag=b"]);
}

#[tokio::test]
async fn emit_empty_marks_a_stream_that_sent_nothing() {
    let handle = sim(config(RouterVersion::V7_16, "[quirks]\nemit_empty = true")).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&["/interface/listen", ".tag=q"]).await;
    raw.send(&["/cancel", "=tag=q"]).await;
    assert_eq!(
        raw.words().await,
        ["!trap", ".tag=q", "=category=2", "=message=interrupted"]
    );
    assert_eq!(raw.words().await, ["!done"]);
    assert_eq!(raw.words().await, ["!empty", ".tag=q"]);
    assert_eq!(raw.words().await, ["!done", ".tag=q"]);
}

#[tokio::test]
async fn monitor_traffic_streams_numbered_sections_until_cancel() {
    let scenario = "[[interface]]\nname = \"ether1\"\nrx_bps = 8000\ntx_bps = 16000\npacket_size = 100\n[[interface]]\nname = \"ether2\"\n";
    let handle = sim(config(RouterVersion::V7_16, scenario)).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&[
        "/interface/monitor-traffic",
        "=interface=ether1,ether2",
        "=interval=50ms",
        ".tag=m",
    ])
    .await;
    for section in 0..3 {
        for name in ["ether1", "ether2"] {
            let row = raw.reply().await;
            assert_eq!(text(&row, "name"), name);
            assert_eq!(text(&row, ".section"), section.to_string());
        }
    }
    raw.send(&["/cancel", "=tag=m", ".tag=c"]).await;
    // Samples queued before the cancel may still arrive; then the exact ending.
    let mut replies = raw.until_done(Some("m")).await;
    replies.retain(|r| r.kind != ReplyKind::Re);
    let kinds: Vec<(ReplyKind, Option<&[u8]>)> =
        replies.iter().map(|r| (r.kind, r.tag.as_deref())).collect();
    assert_eq!(
        kinds,
        [
            (ReplyKind::Trap, Some(&b"m"[..])),
            (ReplyKind::Done, Some(&b"c"[..])),
            (ReplyKind::Done, Some(&b"m"[..]))
        ]
    );

    raw.send(&["/interface/monitor-traffic", "=interface=ether1", "=once="])
        .await;
    let once = raw.until_done(None).await;
    assert_eq!(once.len(), 2);
    assert_eq!(text(&once[0], "rx-bits-per-second"), "8000");
    assert_eq!(text(&once[0], "tx-packets-per-second"), "20");
    assert!(once[0].get(".section").is_none());
    raw.send(&["/interface/monitor-traffic", "=interface=ether9", "=once="])
        .await;
    assert_eq!(
        raw.words().await,
        [
            "!trap",
            "=category=1",
            "=message=input does not match any value of interface"
        ]
    );
    assert_eq!(raw.words().await, ["!done"]);
}

#[tokio::test]
async fn follow_sends_backlog_then_new_and_follow_only_just_new() {
    let handle = sim(config(RouterVersion::V7_16, NO_LOG)).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&[
        "/log/print",
        "=follow=",
        "?topics=system,info,account",
        ".tag=f",
    ])
    .await;
    let backlog = raw.reply().await;
    assert_eq!(backlog.tag.as_deref(), Some(&b"f"[..]));
    assert_eq!(
        text(&backlog, "message"),
        "user admin logged in from 127.0.0.1 via api"
    );
    raw.send(&[
        "/log/print",
        "=follow-only=",
        "?topics=system,error,critical",
        ".tag=o",
    ])
    .await;
    sync(&mut raw).await;
    failed_login(&handle).await;
    let new = raw.reply().await;
    assert_eq!(
        new.tag.as_deref(),
        Some(&b"o"[..]),
        "only the follow-only stream matches"
    );
    assert_eq!(
        text(&new, "message"),
        "login failure for user admin from 127.0.0.1 via api"
    );
    // A second successful login shows up on the `follow` stream only.
    let _second = client(&handle).await;
    let row = raw.reply().await;
    assert_eq!(row.tag.as_deref(), Some(&b"f"[..]));
    assert_eq!(
        text(&row, "message"),
        "user admin logged in from 127.0.0.1 via api"
    );
}

#[tokio::test]
async fn one_shot_commands_interleave_with_a_running_stream() {
    let scenario = "[[interface]]\nname = \"ether1\"\nrx_bps = 1000";
    let handle = sim(config(RouterVersion::V7_16, scenario)).await;
    let client = client(&handle).await;
    let request = Request::new("/interface/monitor-traffic")
        .attr("interface", "ether1")
        .attr("interval", "30ms");
    let mut stream = client.stream(request).await.expect("stream starts");
    for _ in 0..2 {
        let row = stream
            .next()
            .await
            .expect("a sample")
            .expect("not an error");
        assert_eq!(row.text("rx-bits-per-second").as_deref(), Some("1000"));
        let identity = client
            .print("/system/identity/print", &[], &[])
            .await
            .expect("identity");
        assert_eq!(identity.len(), 1);
    }
    stream.cancel().await.expect("cancel completes");
    assert!(
        client
            .print("/system/identity/print", &[], &[])
            .await
            .is_ok()
    );
}
