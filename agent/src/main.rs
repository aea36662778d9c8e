//! `centinela-agent`: parses the command line, sets up logging (stderr, `CENTINELA_AGENT_LOG`)
//! and Ctrl-C handling, and hands over to the library.

use anyhow::Context;
use centinela_agent::cli::{Cli, Command};
use centinela_agent::runner::{self, RunOptions};
use centinela_agent::simulate::{self, SimulateOptions};
use centinela_agent::{config, provision};
use clap::Parser;
use std::time::Duration;
use tokio::sync::watch;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping causes the message already quotes.
fn describe(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    message
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CENTINELA_AGENT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// A shutdown signal that turns true on Ctrl-C (or SIGTERM on unix).
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = tx.send(true);
    });
    rx
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let config_path = cli.config.unwrap_or_else(config::default_config_path);
    match cli.command {
        Command::Enroll {
            server,
            site_key,
            hostname,
            insecure_http,
        } => {
            centinela_agent::enroll::check_transport(&server, insecure_http)?;
            let hostname = hostname.unwrap_or_else(centinela_agent::collect::hostname);
            let config = provision::enroll(&config_path, &server, &site_key, &hostname)
                .await
                .context("enrollment failed")?;
            println!(
                "enrolled: device_id={} device_key={} config={}",
                config.device_id,
                config.device_key,
                config_path.display()
            );
            Ok(())
        }
        Command::Run {
            interval,
            transport,
            queue_dir,
            queue_max_bytes,
            no_remote_exec,
        } => {
            let options = RunOptions {
                interval,
                transport,
                queue_dir,
                queue_max_bytes,
                remote_exec: !no_remote_exec,
            };
            runner::run(&config_path, options, shutdown_signal()).await?;
            Ok(())
        }
        Command::Simulate {
            server,
            site_key,
            devices,
            interval,
            state,
            transport,
            breach_pct,
        } => {
            let options = SimulateOptions {
                server,
                site_key,
                devices: usize::try_from(devices).context("--devices is too large")?,
                interval: Duration::from_secs(interval),
                state_file: state,
                transport,
                breach_pct: breach_pct.clamp(0.0, 100.0),
            };
            simulate::simulate(options, shutdown_signal()).await?;
            Ok(())
        }
    }
}
