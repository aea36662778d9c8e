//! Helpers: start a simulator on port 0, talk to it with raw sentences or the project client.

use std::time::Duration;

use centinela_routeros::client::{Client, ClientConfig};
use centinela_routeros::codec::{Decoder, Reply, ReplyKind, Sentence};
use centinela_routeros_sim::{RouterVersion, Scenario, SimConfig, SimHandle, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for any expected sentence.
pub const WAIT: Duration = Duration::from_secs(5);

pub fn config(version: RouterVersion, scenario: &str) -> SimConfig {
    SimConfig {
        version,
        scenario: Scenario::from_toml_str(scenario).expect("test scenario is valid"),
        ..SimConfig::default()
    }
}

pub async fn sim(config: SimConfig) -> SimHandle {
    start(config).await.expect("simulator starts")
}

pub async fn client(handle: &SimHandle) -> Client {
    let addr = handle.local_addr();
    Client::connect(&ClientConfig::new(
        addr.ip().to_string(),
        addr.port(),
        "admin",
        "",
    ))
    .await
    .expect("client logs in")
}

/// A raw connection speaking sentences, for exact wire-level assertions.
pub struct Raw {
    stream: TcpStream,
    decoder: Decoder,
}

impl Raw {
    pub async fn connect(handle: &SimHandle) -> Raw {
        let stream = TcpStream::connect(handle.local_addr())
            .await
            .expect("connects");
        Raw {
            stream,
            decoder: Decoder::new(),
        }
    }

    /// Connects and logs in as admin with the empty password.
    pub async fn logged_in(handle: &SimHandle) -> Raw {
        let mut raw = Raw::connect(handle).await;
        raw.send(&["/login", "=name=admin", "=password="]).await;
        assert_eq!(raw.words().await, ["!done"]);
        raw
    }

    pub async fn send(&mut self, words: &[&str]) {
        let sentence = words.iter().fold(Sentence::new(), |s, w| s.word(w));
        self.send_bytes(&sentence.to_bytes()).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("writes");
    }

    /// The next sentence; panics after [`WAIT`] or on EOF.
    pub async fn sentence(&mut self) -> Sentence {
        self.try_sentence().await.expect("a sentence, not EOF")
    }

    /// The next sentence, or `None` at EOF.
    pub async fn try_sentence(&mut self) -> Option<Sentence> {
        tokio::time::timeout(WAIT, async {
            let mut buf = [0u8; 4096];
            loop {
                if let Some(sentence) = self.decoder.next_sentence().expect("valid framing") {
                    return Some(sentence);
                }
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.decoder.feed(&buf[..n]),
                }
            }
        })
        .await
        .expect("the simulator answered in time")
    }

    /// The next sentence as text words.
    pub async fn words(&mut self) -> Vec<String> {
        let sentence = self.sentence().await;
        sentence
            .words
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect()
    }

    pub async fn reply(&mut self) -> Reply {
        Reply::parse(&self.sentence().await).expect("a reply sentence")
    }

    /// Replies up to and including the `!done` with `tag` (others are kept in order too).
    pub async fn until_done(&mut self, tag: Option<&str>) -> Vec<Reply> {
        let mut replies = Vec::new();
        loop {
            let reply = self.reply().await;
            let end =
                reply.kind == ReplyKind::Done && reply.tag.as_deref() == tag.map(str::as_bytes);
            replies.push(reply);
            if end {
                return replies;
            }
        }
    }

    /// Asserts the server closed the connection (after draining nothing else).
    pub async fn expect_closed(&mut self) {
        assert!(
            self.try_sentence().await.is_none(),
            "connection should be closed"
        );
    }
}

/// `attribute` of a reply as text.
pub fn text(reply: &Reply, attribute: &str) -> String {
    String::from_utf8_lossy(
        reply
            .get(attribute)
            .unwrap_or_else(|| panic!("{attribute} in {reply:?}")),
    )
    .into_owned()
}
