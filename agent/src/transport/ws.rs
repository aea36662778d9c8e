//! The WebSocket session (`--transport ws`): JSON text frames carrying the client sequence as
//! `id`, acknowledged by `{"type":"ack","id"}` or refused by `{"type":"error","id",...}`.
//!
//! A refused item will never be accepted, so it is counted as dropped and then acknowledged in
//! order like any other; commands arrive as `{"type":"command","payload","signature"}` and are
//! handed over as is (the verifier reads `payload` and `signature` from the frame).

use super::{ACK_TIMEOUT, Announcer, InFlight, TransportContext, TransportError};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Interval of our pings, which also detect a dead connection.
const PING_EVERY: Duration = Duration::from_secs(30);
/// How long the TCP/TLS/WebSocket handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest frame accepted from the server.
const MAX_FRAME: usize = 1024 * 1024;

#[derive(Deserialize)]
struct ServerFrame {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    error: Option<String>,
    message: Option<String>,
}

/// The `wss://` connector: engine CA (if enrolled) plus public roots.
fn connector(
    ctx: &TransportContext,
) -> Result<Option<tokio_tungstenite::Connector>, TransportError> {
    if !ctx.config.ws_url.starts_with("wss://") {
        return Ok(None);
    }
    let ca = ctx.read_file(&ctx.config.files.ca_certificate).ok();
    let tls = crate::tls::ws_client_config(ca.as_deref())?;
    Ok(Some(tokio_tungstenite::Connector::Rustls(tls)))
}

/// One connection: returns `Ok` on shutdown, `Err` when the connection is lost.
pub(super) async fn session(
    ctx: &TransportContext,
    shutdown: &mut watch::Receiver<bool>,
    announcer: &mut Announcer,
    connected: &mut bool,
) -> Result<(), TransportError> {
    let mut request = ctx.config.ws_url.as_str().into_client_request()?;
    let bearer = format!("Bearer {}", ctx.config.device_token.expose());
    let header = HeaderValue::from_str(&bearer)
        .map_err(|_| TransportError::Refused("device token is not a valid header".into()))?;
    request.headers_mut().insert("Authorization", header);
    let mut ws_config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    ws_config.max_message_size = Some(MAX_FRAME);
    ws_config.max_frame_size = Some(MAX_FRAME);
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(ws_config),
        false,
        connector(ctx)?,
    );
    let (stream, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| TransportError::Refused("no WebSocket handshake in time".into()))??;
    let (mut sink, mut frames) = stream.split();
    *connected = true;
    announcer.connected();

    let mut next = ctx.queue.head().await?;
    let mut inflight = InFlight::default();
    let mut last_progress = Instant::now();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        if inflight.has_room() {
            let room = super::WINDOW - inflight.len();
            for (seq, item) in ctx.queue.read_from(next, room).await? {
                sink.send(Message::Text(item.ws_frame(seq).into())).await?;
                if inflight.is_empty() {
                    last_progress = Instant::now();
                }
                inflight.push(seq);
                next = seq + 1;
            }
        }
        if !inflight.is_empty() && last_progress.elapsed() > ACK_TIMEOUT {
            return Err(TransportError::AckTimeout(ACK_TIMEOUT));
        }
        tokio::select! {
            frame = frames.next() => match frame {
                None | Some(Ok(Message::Close(_))) => return Err(TransportError::Closed),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Text(text))) => {
                    if handle_frame(ctx, text.as_bytes(), &mut inflight, &mut last_progress).await? {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => sink.send(Message::Ping(Vec::new().into())).await?,
            _ = ctx.queue.appended(), if inflight.has_room() => {}
            _ = tokio::time::sleep(ACK_TIMEOUT), if !inflight.is_empty() => {}
            _ = shutdown.changed() => {
                let _ = sink.send(Message::Close(None)).await;
                return Ok(());
            }
        }
    }
}

/// Handles one server frame; returns true when the agent is shutting down.
async fn handle_frame(
    ctx: &TransportContext,
    text: &[u8],
    inflight: &mut InFlight,
    last_progress: &mut Instant,
) -> Result<bool, TransportError> {
    let Ok(frame) = serde_json::from_slice::<ServerFrame>(text) else {
        tracing::warn!("Unreadable frame from the engine ignored.");
        return Ok(false);
    };
    let seq = frame.id.as_deref().and_then(|id| id.parse::<u64>().ok());
    match (frame.kind.as_str(), seq) {
        ("ack", Some(seq)) => acknowledge(ctx, inflight, seq, last_progress).await?,
        ("error", Some(seq)) => {
            tracing::warn!(
                seq,
                error = frame.error.as_deref().unwrap_or(""),
                message = frame.message.as_deref().unwrap_or(""),
                "The engine refused a queued item; it is dropped."
            );
            ctx.queue.count_refused(seq).await?;
            acknowledge(ctx, inflight, seq, last_progress).await?;
        }
        ("error", None) => tracing::warn!(
            error = frame.error.as_deref().unwrap_or(""),
            message = frame.message.as_deref().unwrap_or(""),
            "The engine reported an error."
        ),
        ("command", _) => return Ok(ctx.commands.send(text.to_vec()).await.is_err()),
        _ => {}
    }
    Ok(false)
}

async fn acknowledge(
    ctx: &TransportContext,
    inflight: &mut InFlight,
    seq: u64,
    last_progress: &mut Instant,
) -> Result<(), TransportError> {
    *last_progress = Instant::now();
    if let Some(through) = inflight.ack(seq) {
        ctx.queue.ack_through(through).await?;
    }
    Ok(())
}
