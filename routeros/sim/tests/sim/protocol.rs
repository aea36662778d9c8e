//! Wire behaviour: traps, tags, `.proplist`, queries, `count-only`, framing edge cases,
//! quirks, concurrency and shutdown.

use centinela_routeros::client::ClientError;
use centinela_routeros::codec::{Reply, ReplyKind, Request};
use centinela_routeros_sim::RouterVersion;

use crate::common::{Raw, client, config, sim, text};

const INTERFACES: &str = r#"
[[interface]]
name = "ether1"
[[interface]]
name = "ether2"
running = false
[[interface]]
name = "vlan10"
type = "vlan"
[[interface]]
name = "bridge"
type = "bridge"
comment = "lan"
"#;

fn names(replies: &[Reply]) -> Vec<String> {
    replies
        .iter()
        .filter(|r| r.kind == ReplyKind::Re)
        .map(|r| text(r, "name"))
        .collect()
}

#[tokio::test]
async fn unknown_path_gets_two_traps_and_unknown_verb_one() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&["/nothing/print", ".tag=u1"]).await;
    assert_eq!(
        raw.words().await,
        [
            "!trap",
            ".tag=u1",
            "=category=0",
            "=message=no such command or directory (nothing)"
        ]
    );
    assert_eq!(
        raw.words().await,
        ["!trap", ".tag=u1", "=message=no such command prefix"]
    );
    assert_eq!(raw.words().await, ["!done", ".tag=u1"]);
    raw.send(&["/system/resource/reboot"]).await;
    assert_eq!(raw.words().await, ["!trap", "=message=no such command"]);
    assert_eq!(raw.words().await, ["!done"]);

    let client = client(&handle).await;
    let error = client
        .run(Request::new("/x"))
        .await
        .expect_err("unknown command");
    assert!(
        matches!(&error, ClientError::Trap(traps) if traps.len() == 2),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "no such command or directory (x), no such command prefix"
    );
}

#[tokio::test]
async fn proplist_projects_and_id_only_when_asked() {
    let handle = sim(config(RouterVersion::V7_16, INTERFACES)).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&[
        "/interface/print",
        "=.proplist=name,.id,no-such-prop",
        "?name=ether2",
    ])
    .await;
    assert_eq!(raw.words().await, ["!re", "=name=ether2", "=.id=*2"]);
    assert_eq!(raw.words().await, ["!done"]);
    raw.send(&["/interface/print", "=.proplist=name"]).await;
    let replies = raw.until_done(None).await;
    assert!(replies.iter().all(|r| r.get(".id").is_none()));
    assert_eq!(names(&replies), ["ether1", "ether2", "vlan10", "bridge"]);
    raw.send(&["/interface/getall", "?name=vlan10"]).await;
    let replies = raw.until_done(None).await;
    assert_eq!(
        replies[0].get(".id"),
        Some(&b"*3"[..]),
        "no proplist: everything, .id included"
    );
}

#[tokio::test]
async fn queries_run_the_stack_machine() {
    let handle = sim(config(RouterVersion::V7_16, INTERFACES)).await;
    let mut raw = Raw::logged_in(&handle).await;
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["?type=ether", "?type=vlan", "?#|"],
            &["ether1", "ether2", "vlan10"],
        ),
        (&["?type=ether", "?type=vlan", "?#|!"], &["bridge"]),
        (&["?>comment="], &["bridge"]),
        (&["?=running=true", "?type=ether"], &["ether1"]),
        (
            &[
                "?=name=ether1",
                "?=name=bridge",
                "?=name=nope",
                "?#|",
                "?#|",
            ],
            &["ether1", "bridge"],
        ),
        (&["?-comment"], &["ether1", "ether2", "vlan10"]),
    ];
    for (queries, expected) in cases {
        let mut words = vec!["/interface/print", "=.proplist=name"];
        words.extend_from_slice(queries);
        raw.send(&words).await;
        assert_eq!(names(&raw.until_done(None).await), *expected, "{queries:?}");
    }
    raw.send(&["/interface/print", "=count-only=", "?type=ether"])
        .await;
    assert_eq!(raw.words().await, ["!done", "=ret=2"]);
}

#[tokio::test]
async fn dhcp_leases_filter_by_status_through_the_client() {
    let scenario = "[dhcp]\nbound = 4\n[[dhcp.lease]]\naddress = \"192.168.88.20\"\nmac = \"00:11:22:33:44:55\"\nstatus = \"waiting\"";
    let handle = sim(config(RouterVersion::V7_16, scenario)).await;
    let client = client(&handle).await;
    let bound = client
        .print(
            "/ip/dhcp-server/lease/print",
            &["address", "status"],
            &["status=bound"],
        )
        .await
        .expect("leases");
    assert_eq!(bound.len(), 4);
    assert!(
        bound
            .iter()
            .all(|r| r.text("status").as_deref() == Some("bound"))
    );
    let all = client
        .print("/ip/dhcp-server/lease/print", &[], &[])
        .await
        .expect("leases");
    assert_eq!(all.len(), 5);
    assert_eq!(
        all[0].text("expires-after"),
        None,
        "a waiting lease has no expiry"
    );
}

#[tokio::test]
async fn tags_are_echoed_second_and_pipelined_commands_answered_in_order() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    let mut raw = Raw::logged_in(&handle).await;
    let first = Request::new("/system/identity/print")
        .tag("a")
        .to_sentence()
        .to_bytes();
    let second = Request::new("/system/identity/print")
        .tag("b")
        .to_sentence()
        .to_bytes();
    // Both commands and an empty sentence in one write.
    raw.send_bytes(&[first, vec![0], second].concat()).await;
    assert_eq!(raw.words().await, ["!re", ".tag=a", "=name=MikroTik"]);
    assert_eq!(raw.words().await, ["!done", ".tag=a"]);
    assert_eq!(raw.words().await, ["!re", ".tag=b", "=name=MikroTik"]);
    assert_eq!(raw.words().await, ["!done", ".tag=b"]);
}

#[tokio::test]
async fn a_control_byte_closes_the_connection() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send_bytes(&[0xF8, 0x01]).await;
    raw.expect_closed().await;
}

#[tokio::test]
async fn zero_rows_send_done_only_unless_emit_empty() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&["/interface/print", "?name=none"]).await;
    assert_eq!(raw.words().await, ["!done"]);
    let handle = sim(config(RouterVersion::V7_16, "[quirks]\nemit_empty = true")).await;
    let mut raw = Raw::logged_in(&handle).await;
    raw.send(&["/interface/print", "?name=none", ".tag=e"])
        .await;
    assert_eq!(raw.words().await, ["!empty", ".tag=e"]);
    assert_eq!(raw.words().await, ["!done", ".tag=e"]);
}

#[tokio::test]
async fn fragmented_and_delayed_writes_still_decode() {
    let scenario = "[quirks]\nfragment_writes = true\nresponse_delay_ms = 5";
    let handle = sim(config(RouterVersion::V7_16, scenario)).await;
    let client = client(&handle).await;
    let rows = client
        .print("/interface/print", &["name"], &[])
        .await
        .expect("interfaces");
    assert_eq!(rows.len(), 3);
}

#[tokio::test]
async fn many_concurrent_sessions() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..24 {
        let client = client(&handle).await;
        tasks.spawn(async move {
            let (a, b) = tokio::join!(
                client.print("/interface/print", &["name"], &[]),
                client.print("/system/resource/print", &["cpu-load"], &[]),
            );
            (a.expect("interfaces").len(), b.expect("resource").len())
        });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.expect("task"), (3, 1));
    }
}

#[tokio::test]
async fn shutdown_closes_every_session() {
    let handle = sim(config(RouterVersion::V7_16, "")).await;
    let mut idle = Raw::logged_in(&handle).await;
    let mut streaming = Raw::logged_in(&handle).await;
    streaming.send(&["/log/listen", ".tag=l"]).await;
    let addr = handle.local_addr();
    handle.shutdown().await;
    idle.expect_closed().await;
    streaming.expect_closed().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
