//! # centinela (the engine binary)
//!
//! Wires everything: configuration, start-up, shutdown and the CLI.
//!
//! - `centinela serve`: migrations, device actors, the embedded MQTT broker, the HTTP API.
//! - `centinela demo`: `serve` plus a demo data set and a simulated fleet ([`demo`]).
//! - `centinela migrate`: applies migrations only.
//! - `centinela openapi`: prints the API's OpenAPI document (no configuration, no database).
//! - `centinela admin create-user --email E --name N --role R [--tenant T]`: password on stdin.
//! - `centinela admin rotate-master-key`: new key on stdin; re-encrypts the CA key and router
//!   credentials in one transaction.
//!
//! Modules: [`config`] (TOML + environment), [`serve`] (start-up and graceful shutdown),
//! [`admin`] (operator commands), [`pki`] (the CA bridge between ingest and api), [`demo`] (the
//! demo: seed, simulated fleet; never on the `serve` path).
//! Depends on every workspace crate; nothing depends on it.

mod admin;
mod config;
mod demo;
mod pki;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "centinela",
    version,
    about = "Real-time telemetry and alerting engine for MSPs and NOCs"
)]
struct Cli {
    /// Configuration file (default: centinela.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the engine.
    Serve,
    /// Runs the engine with demo data and a simulated fleet (agents and MikroTik routers), on an
    /// empty database or one it seeded before.
    Demo,
    /// Applies database migrations and exits.
    Migrate,
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Prints the API's OpenAPI document (JSON) to stdout; needs no configuration or database.
    Openapi,
}

/// A failure that maps to an exit code: 2 for configuration, 1 for everything else.
#[derive(Debug)]
pub enum Failure {
    Config(String),
    Runtime(anyhow::Error),
}

impl From<config::ConfigError> for Failure {
    fn from(e: config::ConfigError) -> Self {
        Failure::Config(e.to_string())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // rustls 0.23 needs one process-wide crypto provider before any TLS config is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Command::Openapi = cli.command {
        return print_openapi();
    }
    init_tracing();
    let settings = match config::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => return exit_with(Failure::Config(e.to_string())),
    };
    let result = actix_rt::System::new().block_on(async move {
        match cli.command {
            Command::Serve => serve::run(settings).await,
            Command::Demo => demo::run(settings).await,
            Command::Migrate => admin::migrate(&settings).await,
            Command::Admin { command } => admin::run(command, &settings).await,
            Command::Openapi => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => exit_with(failure),
    }
}

/// `centinela openapi`: the document `/api/openapi.json` serves, for generating clients.
fn print_openapi() -> ExitCode {
    match serde_json::to_string_pretty(&centinela_api::routes::openapi()) {
        Ok(text) => {
            use std::io::Write;
            // A reader that stops early (`centinela openapi | head`) is not an error to report.
            match writeln!(std::io::stdout().lock(), "{text}") {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => exit_with(Failure::Runtime(e.into())),
            }
        }
        Err(e) => exit_with(Failure::Runtime(e.into())),
    }
}

fn exit_with(failure: Failure) -> ExitCode {
    match failure {
        Failure::Config(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
        Failure::Runtime(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CENTINELA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttd=warn,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
