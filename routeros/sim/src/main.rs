//! `centinela-routeros-sim`: runs the RouterOS API simulator until SIGINT/SIGTERM.
//!
//! The first stdout line is exactly `listening on ADDR` (then flushed), so scripts and tests
//! can start it with `--listen 127.0.0.1:0` and read the port; logs go to stderr. A scenario
//! that cannot be read or parsed prints one line naming the problem and exits with status 2.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use centinela_routeros_sim::{RouterVersion, Scenario, ScenarioError, SimConfig, start};
use clap::Parser;

/// A protocol-faithful MikroTik RouterOS API simulator (TCP 8728 / TLS) for tests and demos.
#[derive(Debug, Parser)]
#[command(name = "centinela-routeros-sim")]
struct Cli {
    /// Address to listen on; port 0 picks a free port (the bound address is printed first).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8728")]
    listen: SocketAddr,
    /// Accepted user as NAME:PASSWORD (repeatable). Default: admin with an empty password.
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = parse_user)]
    users: Vec<(String, String)>,
    /// Only the pre-6.43 MD5 challenge login.
    #[arg(long)]
    legacy_login: bool,
    /// Serve TLS (API-SSL) with a self-signed certificate generated at start.
    #[arg(long)]
    tls: bool,
    /// RouterOS release to imitate: 6.49 or 7.16.
    #[arg(long, value_name = "6.49|7.16", default_value = "7.16", value_parser = parse_version)]
    version: RouterVersion,
    /// Scenario file (TOML); see routeros/sim/scenarios/example.toml.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
}

fn parse_user(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((name, password)) if !name.is_empty() => Ok((name.to_string(), password.to_string())),
        _ => Err(format!(
            "expected NAME:PASSWORD (password may be empty), got {s:?}"
        )),
    }
}

fn parse_version(s: &str) -> Result<RouterVersion, String> {
    s.parse()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
    let scenario = match &cli.scenario {
        None => Scenario::default(),
        Some(path) => match Scenario::from_file(path) {
            Ok(scenario) => scenario,
            Err(error @ ScenarioError::Read { .. }) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
            Err(error) => {
                eprintln!("error: {}: {error}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let config = SimConfig {
        listen: cli.listen,
        users: cli.users,
        legacy_login: cli.legacy_login,
        tls: cli.tls,
        version: cli.version,
        scenario,
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: SimConfig) -> anyhow::Result<()> {
    let listen = config.listen;
    let handle = start(config)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", handle.local_addr()).context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")?;
    drop(stdout);
    wait_for_signal().await?;
    tracing::info!("Signal received, shutting down.");
    handle.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for ctrl-c")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
