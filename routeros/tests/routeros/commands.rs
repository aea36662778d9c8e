//! One-shot commands: tagging and demultiplexing, `!empty`, traps, `!fatal`, EOF, timeouts,
//! fragmented and malformed input.

use std::time::Duration;

use centinela_routeros::client::{Client, ClientError};
use centinela_routeros::codec::{CodecError, Reply, Request, Sentence};

use crate::peer::{self, spawn_peer, tag_of};

fn names(rows: &[centinela_routeros::client::Row]) -> Vec<String> {
    rows.iter()
        .map(|r| r.text("name").unwrap_or_default().into_owned())
        .collect()
}

/// Three commands in flight at once, answered in reverse order with interleaved rows; an
/// untagged reply and one for an unknown tag are dropped.
#[tokio::test]
async fn concurrent_commands_answered_out_of_order() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let mut requests = Vec::new();
        for _ in 0..3 {
            requests.push(conn.recv().await);
        }
        let tags: Vec<Vec<u8>> = requests
            .iter()
            .map(|r| tag_of(r).unwrap_or_default().to_vec())
            .collect();
        assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);
        conn.send(Reply::re().attr("name", "stray")).await;
        conn.send(Reply::re().with_tag(Some(b"unknown")).attr("name", "stray"))
            .await;
        for (i, request) in requests.iter().enumerate().rev() {
            let command = String::from_utf8_lossy(&request.command).into_owned();
            conn.send(
                Reply::re()
                    .with_tag(tag_of(request))
                    .attr("name", format!("{command}-a")),
            )
            .await;
            if i == 1 {
                conn.send(
                    Reply::re()
                        .with_tag(tag_of(&requests[0]))
                        .attr("name", "/a-early"),
                )
                .await;
            }
        }
        for request in requests.iter().rev() {
            conn.send(Reply::done().with_tag(tag_of(request))).await;
        }
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let (a, b, c) = tokio::join!(
        client.run(Request::new("/a")),
        client.run(Request::new("/b")),
        client.run(Request::new("/c")),
    );
    // The join! polls in order, so the peer receives /a, /b, /c.
    assert_eq!(names(&a.expect("a")), ["/a-early", "/a-a"]);
    assert_eq!(names(&b.expect("b")), ["/b-a"]);
    assert_eq!(names(&c.expect("c")), ["/c-a"]);
    drop(client);
    peer::finish(peer).await;
}

#[tokio::test]
async fn print_sends_proplist_and_queries_and_done_attributes_are_returned() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let request = conn.expect("/interface/print").await;
        assert_eq!(request.get(".proplist"), Some(&b"name,type"[..]));
        assert_eq!(request.queries, [b"type=ether".to_vec(), b"#|".to_vec()]);
        conn.send(
            Reply::re()
                .with_tag(tag_of(&request))
                .attr("name", "ether1"),
        )
        .await;
        conn.send(Reply::done().with_tag(tag_of(&request))).await;
        let request = conn.expect("/ip/route/print").await;
        assert_eq!(request.get("count-only"), Some(&b""[..]));
        conn.send(Reply::done().with_tag(tag_of(&request)).attr("ret", "12"))
            .await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let rows = client
        .print("/interface/print", &["name", "type"], &["type=ether", "#|"])
        .await
        .expect("rows");
    assert_eq!(names(&rows), ["ether1"]);
    let (rows, done) = client
        .run_with_done(
            Request::new("/ip/route/print")
                .attr("count-only", "")
                .tag("mine"),
        )
        .await
        .expect("count");
    assert!(rows.is_empty());
    assert_eq!(done.text("ret").as_deref(), Some("12"));
    drop(client);
    peer::finish(peer).await;
}

#[tokio::test]
async fn empty_then_done_is_zero_rows() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let request = conn.expect("/ppp/active/print").await;
        conn.send(Reply::empty().with_tag(tag_of(&request))).await;
        conn.send(Reply::done().with_tag(tag_of(&request))).await;
        // The next command is unaffected by the consumed `!done`.
        let request = conn.expect("/system/identity/print").await;
        conn.send(Reply::re().with_tag(tag_of(&request)).attr("name", "r1"))
            .await;
        conn.send(Reply::done().with_tag(tag_of(&request))).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let rows = client
        .run(Request::new("/ppp/active/print"))
        .await
        .expect("no rows");
    assert!(rows.is_empty());
    let rows = client
        .run(Request::new("/system/identity/print"))
        .await
        .expect("rows");
    assert_eq!(names(&rows), ["r1"]);
    drop(client);
    peer::finish(peer).await;
}

/// The 7.23.3 quirk: `!empty` and no `!done`; the command completes after a short grace.
#[tokio::test]
async fn empty_without_done_completes_after_a_grace() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let request = conn.expect("/system/health/print").await;
        conn.send(Reply::empty().with_tag(tag_of(&request))).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let started = std::time::Instant::now();
    let rows = client
        .run(Request::new("/system/health/print"))
        .await
        .expect("no rows");
    assert!(rows.is_empty());
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    drop(client);
    peer::finish(peer).await;
}

#[tokio::test]
async fn several_traps_make_one_error() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let request = conn.expect("/system/routerboard/print").await;
        let tag = tag_of(&request);
        conn.send(
            Reply::trap("no such command or directory (routerboard)")
                .attr("category", "0")
                .with_tag(tag),
        )
        .await;
        conn.send(Reply::trap("no such command prefix").with_tag(tag))
            .await;
        conn.send(Reply::done().with_tag(tag)).await;
        let request = conn.expect("/system/identity/print").await;
        conn.send(Reply::done().with_tag(tag_of(&request))).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let error = client
        .run(Request::new("/system/routerboard/print"))
        .await
        .expect_err("traps");
    let ClientError::Trap(traps) = &error else {
        panic!("expected traps, got {error:?}");
    };
    assert_eq!(traps.len(), 2);
    assert_eq!(traps[0].category, Some(0));
    assert_eq!(traps[1].category, None);
    assert_eq!(
        error.to_string(),
        "no such command or directory (routerboard), no such command prefix"
    );
    // The connection is still usable.
    client
        .run(Request::new("/system/identity/print"))
        .await
        .expect("still works");
    drop(client);
    peer::finish(peer).await;
}

/// `!fatal` with its bare reason word, as real routers send it (bytes written by hand).
#[tokio::test]
async fn fatal_fails_pending_commands_and_closes() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        conn.expect("/system/resource/print").await;
        let mut bytes = vec![0x06];
        bytes.extend_from_slice(b"!fatal");
        bytes.push(13);
        bytes.extend_from_slice(b"not logged in");
        bytes.push(0);
        conn.send_raw(&bytes).await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let error = client
        .run(Request::new("/system/resource/print"))
        .await
        .expect_err("fatal");
    assert!(
        matches!(&error, ClientError::Fatal(m) if m == "not logged in"),
        "{error:?}"
    );
    assert!(client.is_closed());
    let again = client.run(Request::new("/x")).await.expect_err("closed");
    assert!(
        matches!(&again, ClientError::Fatal(m) if m == "not logged in"),
        "{again:?}"
    );
    peer::finish(peer).await;
}

#[tokio::test]
async fn eof_fails_pending_commands() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let request = conn.expect("/log/print").await;
        conn.send(
            Reply::re()
                .with_tag(tag_of(&request))
                .attr("message", "half"),
        )
        .await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let error = client
        .run(Request::new("/log/print"))
        .await
        .expect_err("eof");
    assert!(matches!(error, ClientError::Closed), "{error:?}");
    assert!(client.is_closed());
    peer::finish(peer).await;
}

#[tokio::test]
async fn control_byte_is_a_protocol_error() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        conn.expect("/x").await;
        conn.send_raw(&[0xF8, 0x00]).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let error = client.run(Request::new("/x")).await.expect_err("protocol");
    assert!(
        matches!(error, ClientError::Protocol(CodecError::ControlByte(0xF8))),
        "{error:?}"
    );
    assert!(client.is_closed());
    peer::finish(peer).await;
}

#[tokio::test]
async fn unknown_reply_word_is_a_protocol_error() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        conn.expect("/x").await;
        conn.send_raw(&Sentence::new().word("!bogus").to_bytes())
            .await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let error = client.run(Request::new("/x")).await.expect_err("protocol");
    assert!(
        matches!(error, ClientError::Protocol(CodecError::Malformed(_))),
        "{error:?}"
    );
    peer::finish(peer).await;
}

/// A command the router never answers times out; its late reply is dropped and the next
/// command on the same connection works.
#[tokio::test]
async fn command_timeout_then_the_connection_still_works() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        let slow = conn.expect("/slow").await;
        let next = conn.expect("/fast").await;
        conn.send(Reply::re().with_tag(tag_of(&slow)).attr("name", "late"))
            .await;
        conn.send(Reply::done().with_tag(tag_of(&slow))).await;
        conn.send(Reply::re().with_tag(tag_of(&next)).attr("name", "fast"))
            .await;
        conn.send(Reply::done().with_tag(tag_of(&next))).await;
        conn.wait_eof().await;
    })
    .await;
    let mut config = peer::config(addr);
    config.command_timeout = Duration::from_millis(200);
    let client = Client::connect(&config).await.expect("login");
    let error = client
        .run(Request::new("/slow"))
        .await
        .expect_err("timeout");
    assert!(matches!(error, ClientError::Timeout(_)), "{error:?}");
    assert!(!client.is_closed());
    let rows = client.run(Request::new("/fast")).await.expect("works");
    assert_eq!(names(&rows), ["fast"]);
    drop(client);
    peer::finish(peer).await;
}

/// Replies written one byte at a time, with an empty sentence and a 256-byte value word
/// (length prefix `81 00`) in the stream.
#[tokio::test]
async fn fragmented_writes() {
    let long = "x".repeat(256 - "=contents=".len());
    let expected = long.clone();
    let (addr, peer) = spawn_peer(|mut conn| async move {
        let login = conn.expect("/login").await;
        assert!(login.get("name").is_some());
        conn.send_bytewise(&[0]).await;
        conn.send_bytewise(&Reply::done().to_sentence().to_bytes())
            .await;
        let request = conn.expect("/file/print").await;
        let tag = tag_of(&request);
        let mut bytes = Reply::re()
            .with_tag(tag)
            .attr("contents", &long)
            .to_sentence()
            .to_bytes();
        bytes.extend(Reply::done().with_tag(tag).to_sentence().to_bytes());
        assert!(
            bytes.windows(2).any(|w| w == [0x81, 0x00]),
            "a 256-byte word"
        );
        conn.send_bytewise(&bytes).await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let rows = client.run(Request::new("/file/print")).await.expect("rows");
    assert_eq!(rows[0].text("contents").as_deref(), Some(expected.as_str()));
    drop(client);
    peer::finish(peer).await;
}

#[tokio::test]
async fn close_fails_pending_commands() {
    let (addr, peer) = spawn_peer(|mut conn| async move {
        conn.accept_login().await;
        conn.expect("/slow").await;
        conn.wait_eof().await;
    })
    .await;
    let client = Client::connect(&peer::config(addr)).await.expect("login");
    let pending = client.run(Request::new("/slow"));
    let closer = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        client.close().await;
    };
    let (result, ()) = tokio::join!(pending, closer);
    assert!(matches!(result, Err(ClientError::Closed)), "{result:?}");
    assert!(client.is_closed());
    let error = client.run(Request::new("/x")).await.expect_err("closed");
    assert!(matches!(error, ClientError::Closed), "{error:?}");
    peer::finish(peer).await;
}
