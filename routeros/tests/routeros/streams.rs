//! Streaming commands: rows, `/cancel` with the §1.7 ordering and late sentences, traps,
//! `Drop`, and backpressure.

use centinela_routeros::client::{Client, ClientError};
use centinela_routeros::codec::{Reply, Request};

use crate::peer::{self, spawn_peer, tag_of};

/// §1.7 on 7.24: `!trap interrupted` (T), `!done` (cancel), `!done` (T); then a late `!re` for
/// the retired tag, which must be ignored while the next command works.
#[tokio::test]
async fn cancel_with_late_sentences() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let monitor = conn.expect("/interface/monitor-traffic").await;
        assert_eq!(monitor.get("interface"), Some(&b"ether1"[..]));
        let t = tag_of(&monitor);
        for section in ["0", "1"] {
            conn.send(
                Reply::re()
                    .with_tag(t)
                    .attr("name", "ether1")
                    .attr(".section", section),
            )
            .await;
        }
        let cancel = conn.expect("/cancel").await;
        assert_eq!(cancel.get("tag"), t);
        let c = tag_of(&cancel);
        assert_ne!(c, t);
        conn.send(Reply::trap("interrupted").attr("category", "2").with_tag(t))
            .await;
        conn.send(Reply::done().with_tag(c)).await;
        conn.send(Reply::done().with_tag(t)).await;
        conn.send(
            Reply::re()
                .with_tag(t)
                .attr("name", "late")
                .attr(".section", "2"),
        )
        .await;
        let next = conn.expect("/system/identity/print").await;
        conn.send(Reply::re().with_tag(t).attr("name", "later"))
            .await;
        conn.send(Reply::re().with_tag(tag_of(&next)).attr("name", "r1"))
            .await;
        conn.send(Reply::done().with_tag(tag_of(&next))).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let mut stream = client
        .stream(Request::new("/interface/monitor-traffic").attr("interface", "ether1"))
        .await
        .expect("stream");
    for section in ["0", "1"] {
        let row = stream.next().await.expect("a row").expect("no error");
        assert_eq!(row.text(".section").as_deref(), Some(section));
    }
    stream.cancel().await.expect("cancelled");
    let rows = client
        .run(Request::new("/system/identity/print"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].text("name").as_deref(), Some("r1"));
    assert!(!client.is_closed());
    drop(client);
    peer::finish(peer).await;
}

/// A `listen` that produced nothing: `!trap`, `!empty`, `!done` after the cancel, with the
/// cancel's own `!done` last (librouteros' capture places an untagged one in between).
#[tokio::test]
async fn cancel_of_a_silent_listen() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let listen = conn.expect("/queue/simple/listen").await;
        let t = tag_of(&listen);
        let cancel = conn.expect("/cancel").await;
        conn.send(Reply::trap("interrupted").attr("category", "2").with_tag(t))
            .await;
        conn.send(Reply::empty().with_tag(t)).await;
        conn.send(Reply::done().with_tag(t)).await;
        conn.send(Reply::done().with_tag(tag_of(&cancel))).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let stream = client
        .stream(Request::new("/queue/simple/listen"))
        .await
        .expect("stream");
    stream.cancel().await.expect("cancelled");
    drop(client);
    peer::finish(peer).await;
}

#[tokio::test]
async fn stream_trap_then_end() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let request = conn.expect("/log/print").await;
        let t = tag_of(&request);
        conn.send(Reply::re().with_tag(t).attr("message", "first"))
            .await;
        conn.send(Reply::trap("no such command prefix").with_tag(t))
            .await;
        conn.send(Reply::done().with_tag(t)).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let mut stream = client
        .stream(Request::new("/log/print").attr("follow-only", ""))
        .await
        .expect("stream");
    let row = stream.next().await.expect("row").expect("ok");
    assert_eq!(row.text("message").as_deref(), Some("first"));
    let error = stream.next().await.expect("an error").expect_err("trap");
    assert!(
        matches!(&error, ClientError::Trap(t) if t.len() == 1),
        "{error:?}"
    );
    assert!(stream.next().await.is_none());
    // A finished stream has nothing to cancel.
    stream.cancel().await.expect("no-op");
    drop(client);
    peer::finish(peer).await;
}

#[tokio::test]
async fn stream_ends_with_done() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let request = conn.expect("/interface/monitor-traffic").await;
        let t = tag_of(&request);
        conn.send(Reply::re().with_tag(t).attr("name", "ether1"))
            .await;
        conn.send(Reply::done().with_tag(t)).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let mut stream = client
        .stream(Request::new("/interface/monitor-traffic").attr("once", ""))
        .await
        .expect("stream");
    assert!(stream.next().await.expect("row").is_ok());
    assert!(stream.next().await.is_none());
    assert!(stream.next().await.is_none());
    drop(stream);
    drop(client);
    peer::finish(peer).await;
}

/// Dropping a running stream sends `/cancel =tag=T` by itself.
#[tokio::test]
async fn dropping_a_stream_cancels_it() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let listen = conn.expect("/log/listen").await;
        let t = tag_of(&listen);
        conn.send(Reply::re().with_tag(t).attr("message", "one"))
            .await;
        let cancel = conn.expect("/cancel").await;
        assert_eq!(cancel.get("tag"), t);
        conn.send(Reply::trap("interrupted").attr("category", "2").with_tag(t))
            .await;
        conn.send(Reply::done().with_tag(tag_of(&cancel))).await;
        conn.send(Reply::done().with_tag(t)).await;
        let next = conn.expect("/system/identity/print").await;
        conn.send(Reply::done().with_tag(tag_of(&next))).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let mut stream = client
        .stream(Request::new("/log/listen"))
        .await
        .expect("stream");
    stream.next().await.expect("row").expect("ok");
    drop(stream);
    client
        .run(Request::new("/system/identity/print"))
        .await
        .expect("works");
    drop(client);
    peer::finish(peer).await;
}

/// More rows than the stream channel holds, read slowly, all arrive in order: a full channel
/// pauses reading instead of dropping or buffering without bound.
#[tokio::test]
async fn backpressure_keeps_every_row() {
    const ROWS: usize = 1_000;
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let request = conn.expect("/log/print").await;
        let t = tag_of(&request);
        let mut bytes = Vec::new();
        for i in 0..ROWS {
            Reply::re()
                .with_tag(t)
                .attr("n", i.to_string())
                .to_sentence()
                .encode(&mut bytes);
        }
        Reply::done().with_tag(t).to_sentence().encode(&mut bytes);
        conn.send_raw(&bytes).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let mut stream = client
        .stream(Request::new("/log/print"))
        .await
        .expect("stream");
    // Let the reader fill the channel before consuming.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut seen = 0;
    while let Some(row) = stream.next().await {
        let row = row.expect("ok");
        assert_eq!(row.text("n").as_deref(), Some(seen.to_string().as_str()));
        seen += 1;
    }
    assert_eq!(seen, ROWS);
    drop(stream);
    drop(client);
    peer::finish(peer).await;
}

#[tokio::test]
async fn fatal_ends_a_stream() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        conn.expect("/log/listen").await;
        conn.send(Reply::fatal("session terminated on request"))
            .await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let mut stream = client
        .stream(Request::new("/log/listen"))
        .await
        .expect("stream");
    let error = stream.next().await.expect("an error").expect_err("fatal");
    assert!(
        matches!(&error, ClientError::Fatal(m) if m == "session terminated on request"),
        "{error:?}"
    );
    assert!(stream.next().await.is_none());
    assert!(client.is_closed());
    peer::finish(peer).await;
}
