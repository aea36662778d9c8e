//! `GET /ws/noc`: one actor per NOC WebSocket session (actix-web-actors).
//!
//! The session authenticates with `?access_token=<JWT>` (refused with 401 before the upgrade)
//! or, without it, with a first text message `{"type":"auth","access_token":...}` within
//! [`AUTH_TIMEOUT`] (closed with a policy violation otherwise). Once authenticated it registers
//! with the hub under the caller's scope, so it only ever receives events of tenants the user
//! may see. `{"type":"subscribe","device_ids":[...]}` selects live metrics, keeping only the
//! devices visible to the caller. A requester's session gets only events of the devices on its
//! sites (reloaded at every session check; none until first loaded, none without a device).
//! The mailbox is bounded: the hub drops (and counts) events for
//! a session that falls behind rather than slowing everyone else.
//!
//! A session lives only as long as its access token: the client renews it in place by sending
//! `{"type":"auth","access_token":<new token of the same user>}` before it expires (answered
//! `{"type":"renewed","expires_at":...}`); otherwise the server closes the socket at expiry with
//! [`CLOSE_TOKEN_EXPIRED`]. A logout of its login session (or of all the user's sessions), or
//! the reuse of a rotated refresh token, closes it at once with [`CLOSE_SESSION_ENDED`] (and a
//! session ended otherwise — the user deactivated, deleted or changed — within
//! `noc_session_check` of [`crate::AuthConfig`]); a
//! renewal with a token that is invalid or of another user closes it with
//! [`CLOSE_RENEWAL_REFUSED`].

use crate::caller::Caller;
use crate::error::ApiError;
use crate::requester::DeviceScope;
use crate::sessions::EndNoc;
use crate::state::ApiState;
use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use centinela_actors::{NocEvent, NocSubscribe, NocUnsubscribe};
use centinela_model::Role;
use centinela_storage::{StorageError, Store, devices, health, users};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Time a session has to authenticate by message.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval of server pings.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);
/// A session silent for this long is closed.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Events queued per session before the hub drops them.
const MAILBOX_CAPACITY: usize = 256;
/// Devices one session may watch.
const MAX_WATCHED: usize = 200;
/// Close code: the access token expired and was not renewed in place.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// Close code: the login session ended (logout, `logout?all=true`, refresh token reuse, the
/// user deactivated, deleted or changed).
pub const CLOSE_SESSION_ENDED: u16 = 4002;
/// Close code: a renewal carried an invalid token or one of another user.
pub const CLOSE_RENEWAL_REFUSED: u16 = 4003;

/// What a logout sends to the sessions it ends.
pub fn session_ended() -> EndNoc {
    EndNoc {
        code: CLOSE_SESSION_ENDED,
        reason: "session ended",
    }
}

/// The query of the upgrade request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NocQuery {
    pub access_token: Option<String>,
}

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Auth {
        access_token: String,
    },
    Subscribe {
        device_ids: Vec<Uuid>,
    },
    #[serde(other)]
    Unknown,
}

/// One NOC WebSocket session.
pub struct NocSession {
    state: ApiState,
    session_id: Uuid,
    caller: Option<Caller>,
    watched: Vec<Uuid>,
    last_heard: Instant,
    /// The timer that closes the session when its access token expires.
    expiry: Option<SpawnHandle>,
    /// The devices whose events reach a requester's session (the devices on its sites,
    /// reloaded at every session check); every device for other roles. A requester's session
    /// gets nothing until its set is loaded, and no event without a device.
    devices: DeviceScope,
}

impl NocSession {
    fn new(state: ApiState, caller: Option<Caller>) -> NocSession {
        NocSession {
            state,
            session_id: Uuid::new_v4(),
            caller,
            watched: Vec::new(),
            last_heard: Instant::now(),
            expiry: None,
            devices: DeviceScope::default(),
        }
    }

    /// Registers with the hub under the caller's scope, and with the NOC registry under its
    /// login session.
    fn register(&mut self, caller: Caller, ctx: &mut ws::WebsocketContext<Self>) {
        if caller.role == Role::Requester {
            self.devices = DeviceScope::only([]);
            self.load_devices(caller.clone(), ctx);
        }
        self.state.runtime.hub().do_send(NocSubscribe {
            session_id: self.session_id,
            scope: caller.scope(),
            recipient: ctx.address().recipient(),
        });
        ctx.text(json!({"type": "ready", "session_id": self.session_id}).to_string());
        tracing::info!(session_id = %self.session_id, user_id = %caller.user_id, "NOC session opened.");
        self.track(caller, ctx);
    }

    /// Records the caller's login session and closes the socket when its token expires.
    fn track(&mut self, caller: Caller, ctx: &mut ws::WebsocketContext<Self>) {
        let recipient = ctx.address().recipient();
        self.state.guards.noc.register(
            self.session_id,
            caller.user_id,
            caller.session_id,
            recipient,
        );
        if let Some(handle) = self.expiry.take() {
            ctx.cancel_future(handle);
        }
        let left = caller
            .expires_at
            .saturating_sub(Utc::now().timestamp())
            .max(0);
        let left = Duration::from_secs(u64::try_from(left).unwrap_or(0));
        self.expiry = Some(ctx.run_later(left, |act, ctx| {
            act.close(ctx, CLOSE_TOKEN_EXPIRED, "access token expired");
        }));
        self.caller = Some(caller);
    }

    /// Closes the socket with a close code of this module.
    fn close(&self, ctx: &mut ws::WebsocketContext<Self>, code: u16, reason: &str) {
        tracing::info!(session_id = %self.session_id, code, reason, "NOC session closed by the server.");
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Other(code),
            description: Some(reason.to_owned()),
        }));
        ctx.stop();
    }

    fn refuse(&self, ctx: &mut ws::WebsocketContext<Self>, reason: &str) {
        tracing::info!(session_id = %self.session_id, reason, "NOC session refused.");
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Policy,
            description: Some(reason.to_owned()),
        }));
        ctx.stop();
    }

    fn heartbeat(&self, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.run_interval(PING_INTERVAL, |act, ctx| {
            if act.last_heard.elapsed() > CLIENT_TIMEOUT {
                tracing::info!(session_id = %act.session_id, "NOC session timed out.");
                ctx.stop();
                return;
            }
            ctx.ping(b"");
        });
        ctx.run_interval(self.state.auth.noc_session_check, |act, ctx| {
            act.check_session(ctx);
        });
    }

    /// Loads (again) the devices on a requester's sites: a change of its sites, or a device
    /// added to or moved off them, reaches the session within one session check.
    fn load_devices(&mut self, caller: Caller, ctx: &mut ws::WebsocketContext<Self>) {
        let store = self.state.store.clone();
        let load = async move { requester_devices(&store, &caller).await };
        ctx.spawn(load.into_actor(self).map(|loaded, act, _| match loaded {
            Ok(devices) => act.devices = devices,
            Err(error) => {
                tracing::warn!(session_id = %act.session_id, error = %error, "NOC requester devices not loaded.")
            }
        }));
    }

    /// Closes the socket (4002) once its login session has ended behind its back: the user
    /// deactivated, deleted or changed (logouts close it at once through the registry).
    fn check_session(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(caller) = self.caller.clone() else {
            return;
        };
        if caller.role == Role::Requester {
            self.load_devices(caller.clone(), ctx);
        }
        let store = self.state.store.clone();
        let check = async move {
            centinela_storage::sessions::is_live(&store, caller.session_id, caller.user_id).await
        };
        ctx.spawn(check.into_actor(self).map(|live, act, ctx| match live {
            Ok(true) => {}
            Ok(false) => act.close(ctx, CLOSE_SESSION_ENDED, "session ended"),
            // A database hiccup is not a reason to drop a dashboard; the next check decides.
            Err(error) => {
                tracing::warn!(session_id = %act.session_id, error = %error, "NOC session check failed.")
            }
        }));
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(error) => {
                let reply =
                    json!({"type": "error", "error": "bad_request", "message": error.to_string()});
                ctx.text(reply.to_string());
                return;
            }
        };
        match (message, self.caller.clone()) {
            (ClientMessage::Auth { access_token }, None) => self.authenticate(access_token, ctx),
            (_, None) => self.refuse(ctx, "authenticate first"),
            (ClientMessage::Subscribe { device_ids }, Some(caller)) => {
                self.subscribe(caller, device_ids, ctx)
            }
            (ClientMessage::Auth { access_token }, Some(caller)) => {
                self.renew(caller, access_token, ctx)
            }
            (ClientMessage::Unknown, Some(_)) => {}
        }
    }

    /// First authentication by message (checked off the actor: it asks storage).
    fn authenticate(&mut self, token: String, ctx: &mut ws::WebsocketContext<Self>) {
        let state = self.state.clone();
        let check = async move { Caller::authenticate(&state, &token).await };
        ctx.wait(check.into_actor(self).map(|result, act, ctx| match result {
            Ok(caller) if act.caller.is_none() => act.register(caller, ctx),
            Ok(_) => {}
            Err(_) => act.refuse(ctx, "invalid access token"),
        }));
    }

    /// Renewal in place: a valid token of the same user (and scope) moves the expiry.
    fn renew(&mut self, current: Caller, token: String, ctx: &mut ws::WebsocketContext<Self>) {
        let state = self.state.clone();
        let check = async move { Caller::authenticate(&state, &token).await };
        ctx.wait(
            check
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(caller)
                        if caller.user_id == current.user_id
                            && caller.scope() == current.scope() =>
                    {
                        let expires_at = DateTime::<Utc>::from_timestamp(caller.expires_at, 0);
                        act.track(caller, ctx);
                        ctx.text(json!({"type": "renewed", "expires_at": expires_at}).to_string());
                    }
                    _ => act.close(ctx, CLOSE_RENEWAL_REFUSED, "renewal refused"),
                }),
        );
    }

    /// Checks visibility off the actor, then updates the watched devices.
    fn subscribe(
        &mut self,
        caller: Caller,
        mut ids: Vec<Uuid>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(MAX_WATCHED);
        let store = self.state.store.clone();
        let check = async move { visible_devices(&store, &caller, ids).await };
        ctx.spawn(check.into_actor(self).map(|result, act, ctx| match result {
            Ok(visible) => {
                act.state.runtime.watch(act.session_id, &act.watched, visible.clone());
                ctx.text(json!({"type": "subscribed", "device_ids": visible}).to_string());
                act.watched = visible;
            }
            Err(error) => {
                tracing::warn!(session_id = %act.session_id, error = %error, "NOC subscription check failed.");
                ctx.text(ApiError::from(error).body().to_string());
            }
        }));
    }
}

/// The devices of `ids` the caller may see (row-level security plus the API's own check).
async fn visible_devices(
    store: &Store,
    caller: &Caller,
    ids: Vec<Uuid>,
) -> Result<Vec<Uuid>, StorageError> {
    let mut tx = store.begin(caller.scope()).await?;
    let mut visible = Vec::with_capacity(ids.len());
    for id in ids {
        match devices::get(&mut tx, id).await {
            Ok(device)
                if caller.sees(device.tenant_id) && caller.sees_site(Some(device.site_id)) =>
            {
                visible.push(id)
            }
            Ok(_) | Err(StorageError::NotFound) => {}
            Err(other) => return Err(other),
        }
    }
    tx.commit().await?;
    Ok(visible)
}

/// The devices on a requester's sites, its sites read again (an assignment changed since the
/// socket opened counts).
async fn requester_devices(store: &Store, caller: &Caller) -> Result<DeviceScope, StorageError> {
    let mut tx = store.begin(caller.scope()).await?;
    let sites = users::site_ids(&mut tx, caller.user_id).await?;
    let devices = health::devices_on_sites(&mut tx, &sites).await?;
    tx.commit().await?;
    Ok(DeviceScope::only(devices))
}

impl Actor for NocSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.heartbeat(ctx);
        match self.caller.take() {
            Some(caller) => self.register(caller, ctx),
            None => {
                ctx.run_later(AUTH_TIMEOUT, |act, ctx| {
                    if act.caller.is_none() {
                        act.refuse(ctx, "no authentication within 10 seconds");
                    }
                });
            }
        }
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.state.guards.noc.remove(self.session_id);
        if self.caller.is_some() {
            let runtime = &self.state.runtime;
            runtime.watch(self.session_id, &self.watched, Vec::new());
            runtime.hub().do_send(NocUnsubscribe {
                session_id: self.session_id,
            });
            tracing::info!(session_id = %self.session_id, "NOC session closed.");
        }
    }
}

impl NocSession {
    /// Whether a requester may see an event by its site or its author (a ticket on one of its
    /// sites, or one it opened), whatever device it names.
    fn own_site_or_ticket(&self, event: &NocEvent) -> bool {
        let Some(caller) = &self.caller else {
            return false;
        };
        event
            .site_id
            .is_some_and(|site| caller.site_ids.contains(&site))
            || event.owner_id == Some(caller.user_id)
    }
}

impl Handler<NocEvent> for NocSession {
    type Result = ();

    fn handle(&mut self, event: NocEvent, ctx: &mut Self::Context) {
        if !self.devices.sees_event(event.device_id) && !self.own_site_or_ticket(&event) {
            return;
        }
        if event.not_for_requesters
            && self
                .caller
                .as_ref()
                .is_none_or(|c| c.role == centinela_model::Role::Requester)
        {
            return;
        }
        ctx.text(&*event.json);
    }
}

impl Handler<EndNoc> for NocSession {
    type Result = ();

    fn handle(&mut self, end: EndNoc, ctx: &mut Self::Context) {
        self.close(ctx, end.code, end.reason);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for NocSession {
    fn handle(&mut self, message: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match message {
            Ok(ws::Message::Ping(bytes)) => ctx.pong(&bytes),
            Ok(ws::Message::Text(text)) => self.on_text(&text, ctx),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Ok(
                ws::Message::Pong(_)
                | ws::Message::Binary(_)
                | ws::Message::Continuation(_)
                | ws::Message::Nop,
            ) => {}
            Err(error) => {
                tracing::info!(session_id = %self.session_id, error = %error, "NOC session protocol error.");
                ctx.stop();
            }
        }
    }
}

/// `GET /ws/noc`: upgrades to a NOC session (401 first when a query token is invalid).
pub async fn noc(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<ApiState>,
    query: web::Query<NocQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let caller = match query.access_token.as_deref() {
        Some(token) => Some(Caller::authenticate(&state, token).await?),
        None => None,
    };
    ws::start(
        NocSession::new(state.get_ref().clone(), caller),
        &req,
        stream,
    )
}
