//! The hub: fans NOC events out to WebSocket sessions, each filtered by its scope. An event is
//! serialised once; a session whose queue is full misses it (counted) rather than slowing
//! everyone else.

use crate::telemetry::Telemetry;
use actix::prelude::*;
use centinela_model::{Scope, TenantId};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// One event for NOC sessions: its tenant and its JSON text.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct NocEvent {
    pub tenant_id: TenantId,
    /// For `metrics` events: only sessions subscribed to this device get it.
    pub device_id: Option<Uuid>,
    /// The site the event is about, when it has one (tickets): a requester's session gets
    /// events of its own sites.
    pub site_id: Option<Uuid>,
    /// The user who opened the object (a ticket's `created_by`): a requester always gets
    /// events about its own tickets.
    pub owner_id: Option<Uuid>,
    pub subscription_only: bool,
    /// Not for requesters' sessions (SLA escalations: who is chased, and when).
    pub not_for_requesters: bool,
    pub json: Arc<str>,
}

/// Registers a session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NocSubscribe {
    pub session_id: Uuid,
    pub scope: Scope,
    pub recipient: Recipient<NocEvent>,
}

/// Unregisters a session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NocUnsubscribe {
    pub session_id: Uuid,
}

/// Sets the devices whose live metrics a session wants.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NocWatch {
    pub session_id: Uuid,
    pub device_ids: Vec<Uuid>,
}

struct Session {
    scope: Scope,
    recipient: Recipient<NocEvent>,
    watched: Vec<Uuid>,
}

/// The hub actor.
pub struct Hub {
    sessions: HashMap<Uuid, Session>,
    telemetry: Arc<Telemetry>,
}

impl Hub {
    pub fn new(telemetry: Arc<Telemetry>) -> Hub {
        Hub {
            sessions: HashMap::new(),
            telemetry,
        }
    }
}

impl Actor for Hub {
    type Context = Context<Self>;
}

impl Handler<NocSubscribe> for Hub {
    type Result = ();
    fn handle(&mut self, msg: NocSubscribe, _: &mut Context<Self>) {
        self.sessions.insert(
            msg.session_id,
            Session {
                scope: msg.scope,
                recipient: msg.recipient,
                watched: Vec::new(),
            },
        );
        self.telemetry.noc_sessions.set(self.sessions.len() as i64);
    }
}

impl Handler<NocUnsubscribe> for Hub {
    type Result = ();
    fn handle(&mut self, msg: NocUnsubscribe, _: &mut Context<Self>) {
        self.sessions.remove(&msg.session_id);
        self.telemetry.noc_sessions.set(self.sessions.len() as i64);
    }
}

impl Handler<NocWatch> for Hub {
    type Result = ();
    fn handle(&mut self, msg: NocWatch, _: &mut Context<Self>) {
        if let Some(session) = self.sessions.get_mut(&msg.session_id) {
            session.watched = msg.device_ids;
        }
    }
}

impl Handler<NocEvent> for Hub {
    type Result = ();
    fn handle(&mut self, event: NocEvent, _: &mut Context<Self>) {
        for session in self.sessions.values() {
            if !session.scope.allows(event.tenant_id) {
                continue;
            }
            if event.subscription_only
                && !event
                    .device_id
                    .is_some_and(|d| session.watched.contains(&d))
            {
                continue;
            }
            if session.recipient.try_send(event.clone()).is_err() {
                self.telemetry.noc_dropped.inc();
            }
        }
    }
}
