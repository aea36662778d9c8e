//! The scripted peer: accepts one connection and runs a test's script against it.

use std::net::SocketAddr;
use std::time::Duration;

use centinela_routeros::client::ClientConfig;
use centinela_routeros::codec::{Decoder, Reply, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const USER: &str = "admin";
pub const PASSWORD: &str = "secret";

pub trait PeerIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> PeerIo for T {}

/// One accepted connection, seen from the router's side.
pub struct Conn {
    io: Box<dyn PeerIo>,
    decoder: Decoder,
}

impl Conn {
    pub fn new(io: Box<dyn PeerIo>) -> Self {
        Self {
            io,
            decoder: Decoder::new(),
        }
    }

    /// The next command; `None` on EOF.
    pub async fn try_recv(&mut self) -> Option<Request> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(sentence) = self
                .decoder
                .next_sentence()
                .expect("client sends valid framing")
            {
                return Some(Request::parse(&sentence).expect("client sends valid commands"));
            }
            match self.io.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.feed(&buf[..n]),
            }
        }
    }

    pub async fn recv(&mut self) -> Request {
        self.try_recv().await.expect("a command from the client")
    }

    /// Reads a command and checks its command word.
    pub async fn expect(&mut self, command: &str) -> Request {
        let request = self.recv().await;
        assert_eq!(String::from_utf8_lossy(&request.command), command);
        request
    }

    pub async fn send(&mut self, reply: Reply) {
        self.send_raw(&reply.to_sentence().to_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("write to client");
        self.io.flush().await.expect("flush to client");
    }

    /// Writes `bytes` one byte per write, each flushed.
    pub async fn send_bytewise(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.send_raw(std::slice::from_ref(byte)).await;
        }
    }

    /// The ≥ 6.43 login with the test credentials.
    pub async fn accept_login(&mut self) {
        let login = self.expect("/login").await;
        assert_eq!(login.get("name"), Some(USER.as_bytes()));
        assert_eq!(login.get("password"), Some(PASSWORD.as_bytes()));
        self.send(Reply::done()).await;
    }

    /// Waits until the client closes the connection.
    pub async fn wait_eof(&mut self) {
        while self.try_recv().await.is_some() {}
    }
}

/// Binds 127.0.0.1:0 and runs `script` on the first accepted connection. Await the handle at
/// the end of the test so the peer's assertions count.
pub async fn spawn_peer<F, Fut>(script: F) -> (SocketAddr, JoinHandle<()>)
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let handle = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        script(Conn::new(Box::new(socket))).await;
    });
    (addr, handle)
}

/// A client configuration for the peer at `addr`, with short timeouts.
pub fn config(addr: SocketAddr) -> ClientConfig {
    let mut config = ClientConfig::new(addr.ip().to_string(), addr.port(), USER, PASSWORD);
    config.connect_timeout = Duration::from_secs(2);
    config.command_timeout = Duration::from_secs(2);
    config
}

/// Awaits the peer's script, failing the test if it panicked.
pub async fn finish(peer: JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(5), peer)
        .await
        .expect("peer script finishes")
        .expect("peer script succeeds");
}

/// The reply's tag as the peer must echo it.
pub fn tag_of(request: &Request) -> Option<&[u8]> {
    let tag = request.tag.as_deref();
    assert!(tag.is_some(), "the client tags every command");
    tag
}
