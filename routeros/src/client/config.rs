//! Where and how to connect to a router.
//!
//! Why a file of its own: the configuration carries the password, so its `Debug` is written by
//! hand to redact it, and that deserves to be seen and tested in one place.

use std::fmt;
use std::time::Duration;

/// Where and how to connect. Build with [`ClientConfig::new`], then adjust fields.
#[derive(Clone)]
pub struct ClientConfig {
    /// Router host name or IP address.
    pub host: String,
    /// API port: 8728 plain, 8729 TLS.
    pub port: u16,
    /// Use TLS (API-SSL).
    pub tls: bool,
    /// Accept any TLS certificate (routers ship self-signed ones): encrypted, not authenticated.
    pub accept_invalid_certs: bool,
    /// Login name.
    pub username: String,
    /// Login password; never printed.
    pub password: String,
    /// Limit for TCP connect and for the TLS handshake (default 5 s).
    pub connect_timeout: Duration,
    /// Limit for login and for each one-shot command (default 10 s).
    pub command_timeout: Duration,
}

impl ClientConfig {
    /// A plain-TCP configuration with the default timeouts.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            tls: false,
            accept_invalid_certs: false,
            username: username.into(),
            password: password.into(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password() {
        let config = ClientConfig::new("192.0.2.1", 8728, "admin", "s3cret-pass");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret-pass"), "{debug}");
        assert!(
            debug.contains("admin") && debug.contains("<redacted>"),
            "{debug}"
        );
    }

    #[test]
    fn config_defaults() {
        let config = ClientConfig::new("r1", 8729, "u", "p");
        assert!(!config.tls && !config.accept_invalid_certs);
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.command_timeout, Duration::from_secs(10));
    }
}
