//! `GET /ws/agent`: the agent messages of the MQTT topics, over WebSocket, for agents that can
//! only reach 443. The device is identified by `Authorization: Bearer <device token>` before
//! the upgrade. Each text frame is one JSON object with a `type` (`telemetry`, `heartbeat`,
//! `inventory`, `events`, `command_result`) and the same fields as the MQTT payload. Messages
//! are handled one at a time, in order; a refused one gets
//! `{"type":"error","error":<reason>,"message":...}` and nothing else is affected. A message
//! carrying an `id` is acknowledged with `{"type":"ack","id":...}` once the engine has it.
//!
//! Limits: a device holds at most `max_sessions_per_device` sockets at once (another answers
//! 429 `too_many_sessions` before the upgrade); a socket that receives nothing (not even a
//! ping) for `idle_timeout` is closed with code 1001 "idle timeout"; when the device is deleted
//! or its token replaced the socket is closed with code 1008 within seconds
//! ([`crate::sessions`]). Each is counted: `centinela_ingest_rejected{transport="ws"}` and
//! `centinela_sessions_closed{transport="ws",reason="idle"|"revoked"}`.

use crate::dispatch::{Refused, deliver};
use crate::sessions::{DeviceSessions, Lease, Opening, Transport};
use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use centinela_actors::CommandSink;
use centinela_actors::Runtime;
use centinela_model::payload::{MessageKind, RejectReason, decode_object, parse_object};
use centinela_model::{DeviceId, Scope};
use centinela_storage::devices;
use chrono::Utc;
use dashmap::DashMap;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What the route needs.
#[derive(Clone, Debug)]
pub struct AgentWsState {
    pub runtime: Runtime,
    pub max_payload_bytes: usize,
    /// Connected agents, through which commands reach them.
    pub sessions: Sessions,
    /// Live device sessions of every transport (caps, closing on deletion).
    pub device_sessions: DeviceSessions,
    /// A socket that receives nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Sockets one device may hold at once.
    pub max_sessions_per_device: usize,
}

/// Agents connected over `/ws/agent`; a [`CommandSink`] for the runtime.
#[derive(Clone, Default)]
pub struct Sessions(Arc<DashMap<Uuid, Addr<AgentSession>>>);

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("connected", &self.0.len())
            .finish()
    }
}

/// A signed command for the session's agent.
#[derive(Message)]
#[rtype(result = "()")]
struct PushCommand(String);

impl CommandSink for Sessions {
    fn deliver(&self, device: DeviceId, message: &str) -> bool {
        let Some(session) = self.0.get(&device.0) else {
            return false;
        };
        // `{"payload","signature"}` becomes `{"type":"command","payload","signature"}`.
        let mut frame: serde_json::Map<String, Value> = match serde_json::from_str(message) {
            Ok(Value::Object(map)) => map,
            _ => return false,
        };
        frame.insert("type".into(), Value::from("command"));
        session.do_send(PushCommand(Value::Object(frame).to_string()));
        true
    }
}

/// Registers `/ws/agent`.
pub fn configure(cfg: &mut web::ServiceConfig, state: AgentWsState) {
    cfg.app_data(web::Data::new(state))
        .route("/ws/agent", web::get().to(connect));
}

fn unauthorized(message: &str) -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({"error": "unauthorized", "message": message}))
}

async fn connect(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AgentWsState>,
) -> actix_web::Result<HttpResponse> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token else {
        return Ok(unauthorized(
            "a device token is required: Authorization: Bearer <token>",
        ));
    };
    let store = state.runtime.store();
    let identity = async {
        let mut tx = store.begin(Scope::All).await?;
        let found = devices::by_token(&mut tx, token).await?;
        tx.commit().await?;
        Ok::<_, centinela_storage::StorageError>(found)
    }
    .await
    .map_err(actix_web::error::ErrorInternalServerError)?;
    let Some(identity) = identity else {
        state.runtime.telemetry().refused("ws", "bad_credentials");
        return Ok(unauthorized("unknown device token"));
    };
    let token_hash = centinela_storage::token_hash(token);
    let lease = state.device_sessions.open(Opening {
        device: identity.id,
        transport: Transport::Ws,
        client_id: None,
        token_hash: &token_hash,
        limit: state.max_sessions_per_device,
    });
    let Ok(lease) = lease else {
        state.runtime.telemetry().refused("ws", "too_many_sessions");
        tracing::warn!(device_id = %identity.id, "Agent WebSocket refused: too many sessions.");
        return Ok(HttpResponse::TooManyRequests().json(json!({
            "error": "too_many_sessions",
            "message": format!("this device already has {} agent sessions", state.max_sessions_per_device),
        })));
    };
    let session = AgentSession {
        device: DeviceId(identity.id),
        runtime: state.runtime.clone(),
        limit: state.max_payload_bytes,
        sessions: state.sessions.clone(),
        lease,
        idle_timeout: state.idle_timeout,
        last_heard: Instant::now(),
    };
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(state.max_payload_bytes.saturating_mul(2))
        .start()
}

/// One agent connection.
pub struct AgentSession {
    device: DeviceId,
    runtime: Runtime,
    limit: usize,
    sessions: Sessions,
    /// This socket's place among the device's live sessions (dropped with the actor).
    lease: Lease,
    idle_timeout: Duration,
    last_heard: Instant,
}

impl Actor for AgentSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The newest connection of a device receives its commands.
        self.sessions.0.insert(self.device.0, ctx.address());
        ctx.spawn(self.lease.closed().into_actor(self).map(|(), me, ctx| {
            tracing::info!(device = %me.device, "Agent WebSocket closed: device deleted or token replaced.");
            me.close(ctx, ws::CloseCode::Policy, "device deleted or token revoked");
        }));
        // Checked a few times per timeout, so a socket is closed at most a quarter late.
        let every = (self.idle_timeout / 4).max(Duration::from_millis(100));
        ctx.run_interval(every, |me, ctx| {
            if me.last_heard.elapsed() >= me.idle_timeout {
                me.runtime.telemetry().session_closed("ws", "idle");
                tracing::info!(device = %me.device, "Agent WebSocket closed: idle.");
                me.close(ctx, ws::CloseCode::Away, "idle timeout");
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        let me = ctx.address();
        self.sessions
            .0
            .remove_if(&self.device.0, |_, addr| *addr == me);
    }
}

impl Handler<PushCommand> for AgentSession {
    type Result = ();
    fn handle(&mut self, msg: PushCommand, ctx: &mut Self::Context) {
        ctx.text(msg.0);
    }
}

impl AgentSession {
    fn close(&mut self, ctx: &mut ws::WebsocketContext<Self>, code: ws::CloseCode, why: &str) {
        ctx.close(Some(ws::CloseReason {
            code,
            description: Some(why.into()),
        }));
        ctx.stop();
    }

    fn refuse(&self, ctx: &mut ws::WebsocketContext<Self>, reason: &RejectReason) {
        self.runtime.telemetry().refused("ws", reason.as_str());
        tracing::warn!(device = %self.device, error = %reason, "Agent WebSocket message rejected.");
        ctx.text(
            json!({"type": "error", "error": reason.as_str(), "message": reason.to_string()})
                .to_string(),
        );
    }

    fn handle_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let object = match parse_object(text.as_bytes(), self.limit) {
            Ok(object) => object,
            Err(reason) => return self.refuse(ctx, &reason),
        };
        let kind = match object
            .get("type")
            .and_then(Value::as_str)
            .and_then(MessageKind::from_type_word)
        {
            Some(kind) => kind,
            None => return self.refuse(ctx, &RejectReason::UnknownType),
        };
        let id = object.get("id").cloned();
        let decoded = decode_object(kind, &object, self.runtime.time_window(), Utc::now());
        let runtime = self.runtime.clone();
        let device = self.device;
        // Only a refused message needs its bytes (for its dead letter).
        let payload = if decoded.is_err() {
            text.as_bytes().to_vec()
        } else {
            Vec::new()
        };
        // `wait` holds further frames until this one is in: order is kept and a saturated
        // engine slows the socket instead of queueing without bound.
        ctx.wait(
            async move { deliver(&runtime, "ws", device, kind, decoded, &payload).await }
                .into_actor(self)
                .map(move |result, _, ctx| match result {
                    Ok(()) => {
                        if let Some(id) = id {
                            ctx.text(json!({"type": "ack", "id": id}).to_string());
                        }
                    }
                    // A payload refusal is final: the id tells the agent to drop the item.
                    Err(refused @ Refused::Payload(_)) => {
                        ctx.text(json!({"type": "error", "id": id, "error": refused.label(), "message": refused.to_string()}).to_string());
                    }
                    // The engine could not take it now (shutting down, database trouble): no
                    // id, and the connection closes, so the agent keeps the item and resends.
                    Err(refused) => {
                        ctx.text(json!({"type": "error", "error": refused.label(), "message": refused.to_string()}).to_string());
                        ctx.close(Some(ws::CloseReason {
                            code: ws::CloseCode::Again,
                            description: Some("try again later".into()),
                        }));
                        ctx.stop();
                    }
                }),
        );
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for AgentSession {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match msg {
            Ok(ws::Message::Text(text)) => self.handle_text(&text, ctx),
            Ok(ws::Message::Binary(bytes)) => match std::str::from_utf8(&bytes) {
                Ok(text) => self.handle_text(text, ctx),
                Err(_) => self.refuse(ctx, &RejectReason::InvalidUtf8),
            },
            Ok(ws::Message::Ping(bytes)) => ctx.pong(&bytes),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Ok(_) => {}
            Err(error) => {
                // Oversize frames and protocol violations end the connection (counted).
                self.runtime.telemetry().refused("ws", "protocol");
                tracing::warn!(device = %self.device, %error, "Agent WebSocket protocol error.");
                ctx.stop();
            }
        }
    }
}
