//! Command-line interface: `enroll`, `run`, `simulate`, each taking the global `--config`.
//!
//! Only progress lines go to stdout (enrollment result, simulator progress); logs go to
//! stderr, so scripts can read stdout without filtering.

use crate::queue::DEFAULT_MAX_BYTES;
use crate::transport::TransportKind;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Centinela endpoint agent.
#[derive(Debug, Parser)]
#[command(name = "centinela-agent", version, about)]
pub struct Cli {
    /// Configuration file (default: per OS and user; see README).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enroll this machine with a site key and write the configuration.
    Enroll {
        /// Engine base URL, e.g. https://centinela.example.com
        #[arg(long)]
        server: String,
        /// The site's enrollment key.
        #[arg(long)]
        site_key: String,
        /// Name to register (default: this host's name).
        #[arg(long)]
        hostname: Option<String>,
        /// Allow plain `http://` to a non-loopback server. The command key and the CA are
        /// learned at enrollment: over plain HTTP anyone on the path could replace them.
        #[arg(long)]
        insecure_http: bool,
    },
    /// Run the agent in the foreground.
    Run {
        /// Telemetry and heartbeat interval in seconds (overrides enrollment).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        interval: Option<u64>,
        /// Transport to the engine.
        #[arg(long, value_enum, default_value = "mqtt")]
        transport: TransportKind,
        /// Store-and-forward queue directory (default: `queue/` beside the config).
        #[arg(long, value_name = "DIR")]
        queue_dir: Option<PathBuf>,
        /// Queue size bound in bytes; past it the oldest items are dropped and counted.
        #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_BYTES)]
        queue_max_bytes: u64,
        /// Refuse every remote command.
        #[arg(long)]
        no_remote_exec: bool,
    },
    /// Simulate a fleet of N devices publishing plausible telemetry.
    Simulate {
        #[arg(long)]
        server: String,
        #[arg(long)]
        site_key: String,
        /// Number of virtual devices.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        devices: u64,
        /// Seconds between samples of each device.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        interval: u64,
        /// Where enrolled devices are remembered.
        #[arg(long, value_name = "FILE", default_value = "./centinela-simulate.json")]
        state: PathBuf,
        #[arg(long, value_enum, default_value = "mqtt")]
        transport: TransportKind,
        /// Percent of samples with a CPU breach (95–100 %).
        #[arg(long, default_value_t = 1.0)]
        breach_pct: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_subcommand() {
        let cli = Cli::try_parse_from([
            "centinela-agent",
            "run",
            "--config",
            "/tmp/a.toml",
            "--transport",
            "ws",
            "--no-remote-exec",
        ])
        .expect("run");
        assert_eq!(cli.config, Some(PathBuf::from("/tmp/a.toml")));
        assert!(
            matches!(cli.command, Command::Run { transport: TransportKind::Ws, no_remote_exec: true, queue_max_bytes, .. } if queue_max_bytes == DEFAULT_MAX_BYTES)
        );
        let cli = Cli::try_parse_from([
            "centinela-agent",
            "--config",
            "c.toml",
            "enroll",
            "--server",
            "http://x",
            "--site-key",
            "k",
        ])
        .expect("enroll");
        assert!(matches!(
            cli.command,
            Command::Enroll { hostname: None, .. }
        ));
        let cli = Cli::try_parse_from([
            "centinela-agent",
            "simulate",
            "--server",
            "http://x",
            "--site-key",
            "k",
            "--devices",
            "1000",
            "--interval",
            "10",
            "--breach-pct",
            "5",
        ])
        .expect("simulate");
        assert!(matches!(
            cli.command,
            Command::Simulate { devices: 1000, .. }
        ));
        assert!(Cli::try_parse_from(["centinela-agent", "run", "--interval", "0"]).is_err());
    }
}
