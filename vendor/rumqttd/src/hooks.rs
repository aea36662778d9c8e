//! Centinela patch: the embedding application's say over each network connection.
//!
//! rumqttd asks an authenticated connection's [`ConnectionHooks::admit`] before registering it
//! with the router. The application may refuse it (the client gets a CONNACK "not authorized"
//! and the socket closes), or admit it with a [`Session`]: rules that see every PUBLISH,
//! SUBSCRIBE and UNSUBSCRIBE the client sends before the router does (a refused one closes the
//! connection, the only answer MQTT 3.1.1 has), and a future that closes the connection when
//! the application says so (a deleted device, a revoked credential). The session's rules are
//! dropped when the connection ends, which is how the application learns it ended.
//! Handshakes that fail or time out are reported through [`ConnectionHooks::refused`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// Why something was refused: a short word, fit for a counter's label.
pub type Refusal = &'static str;

/// An authenticated connection, as the hooks see it.
#[derive(Clone, Copy)]
pub struct Login<'a> {
    /// The client id sent in CONNECT (empty when the broker assigns one).
    pub client_id: &'a str,
    /// The CONNECT username, if any.
    pub username: Option<&'a str>,
    /// The CONNECT password, if any (already checked by the auth handler).
    pub password: Option<&'a str>,
    /// The tenant named by the client certificate (feature `verify-client-cert`).
    pub tenant_id: Option<&'a str>,
    /// Topic and retain flag of the connection's will message, if it has one (the router
    /// publishes it on the client's behalf, so it passes the same rules as a publish).
    pub will: Option<(&'a [u8], bool)>,
}

impl fmt::Debug for Login<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// What a connection's client sends, checked before the router sees it.
pub trait SessionRules: Send {
    /// A PUBLISH (topic as sent, retain flag).
    fn publish(&mut self, topic: &[u8], retain: bool) -> Result<(), Refusal>;
    /// One filter of a SUBSCRIBE.
    fn subscribe(&mut self, filter: &str) -> Result<(), Refusal>;
    /// One filter of an UNSUBSCRIBE.
    fn unsubscribe(&mut self, filter: &str);
}

/// An admitted connection.
pub struct Session {
    /// Completes when the application wants the connection closed.
    pub closed: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Checks the client's packets; dropped when the connection ends.
    pub rules: Box<dyn SessionRules>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session")
    }
}

/// The application's side of every connection of a server.
pub trait ConnectionHooks: Send + Sync {
    /// May this authenticated connection start?
    fn admit(&self, login: &Login<'_>) -> Result<Session, Refusal>;
    /// The broker refused a connection before authentication (`handshake_timeout`,
    /// `handshake_failed`).
    fn refused(&self, reason: Refusal);
}
