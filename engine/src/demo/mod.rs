//! `centinela demo`: the engine with a demo data set and a simulated fleet, so the NOC is alive
//! at once. Demo code stays out of the production path: `serve` never seeds and never creates
//! demo accounts; this module only calls the engine's ordinary start-up
//! ([`crate::serve::run_with`]) with a sidecar.
//!
//! 1. The database must be empty or already a demo database (the `demo_seed` marker row);
//!    anything else is refused with exit code 2 naming what it holds.
//! 2. Migrations, then [`seed`] (one transaction, idempotent) — 5 client tenants with their
//!    legal data, 10 sites, 75 devices (agents and routers), the demo accounts, 60 tickets in
//!    every state, alert history.
//! 3. [`fleet`]: one RouterOS simulator per router on loopback (brute force, PPPoE flapping, a
//!    link going down, a router unreachable for `demo.router_outage_s`); once HTTP listens, the
//!    agents get certificates through the enrollment API and publish over MQTT/TLS, with CPU
//!    breaches that open and clear alerts within the first minute.
//! 4. [`history`]: `demo.history_days` of 5-minute metrics through binary `COPY`, in the
//!    background.
//!
//! Ctrl-C stops the fleet, then the engine as `serve` stops.

mod data;
mod fleet;
mod history;
mod seed;

use crate::config::Settings;
use crate::serve::{self, Extras, Sidecar};
use crate::{Failure, admin, pki};
use anyhow::Context;
use centinela_api::meta::{DemoAccount, DemoMode};
use centinela_ingest::pki::MasterKey;
use centinela_storage::Store;
use centinela_storage::demo::{self as demo_store, DatabaseState};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub async fn run(settings: Settings) -> Result<(), Failure> {
    let url = settings.database_url()?.to_owned();
    check_database(&url).await?;
    let master_key = MasterKey::from_base64(settings.master_key()?).map_err(|e| {
        Failure::Config(format!(
            "configuration error: secrets.master_key (CENTINELA_SECRETS__MASTER_KEY): {e}"
        ))
    })?;
    let sealer = pki::Sealer(Arc::new(master_key));
    let store = admin::connect(&settings).await?;
    let started = Instant::now();
    if seed::seed(&store, &sealer)
        .await
        .context("cannot seed the demo data")?
    {
        println!(
            "demo: data seeded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("demo: demo data already present (seeded before)");
    }
    let demo = &settings.demo;
    let routers = seed::routers(&store).await?;
    let mut sims = fleet::start_routers(
        &routers,
        Duration::from_secs(demo.router_outage_after_s),
        Duration::from_secs(demo.router_outage_s),
    )
    .await?;
    if let Err(error) = seed::point_routers(&store, &sims.ports).await {
        sims.stop().await;
        return Err(Failure::Runtime(
            error.context("cannot point the routers at their simulators"),
        ));
    }
    let agents = seed::agents_with_tokens(&store).await?;
    let sidecar = DemoSidecar {
        store,
        settings: DemoRun::from(&settings),
        agents: Some(fleet::AgentFleet {
            agents,
            mqtt: (
                settings.mqtt.public_host.clone(),
                settings.mqtt.listen.port(),
            ),
            interval: Duration::from_millis(demo.telemetry_interval_ms.max(100)),
            breach_pct: demo.breach_pct.clamp(0.0, 100.0),
            state_file: settings.engine.data_dir.join("demo").join("fleet.json"),
        }),
        routers: Some(sims),
        stop: watch::channel(false).0,
        tasks: Vec::new(),
    };
    let extras = Extras {
        demo: Some(DemoMode {
            accounts: login_accounts(),
        }),
        sidecar: Some(Box::new(sidecar)),
    };
    serve::run_with(settings, extras).await
}

/// Refuses (exit 2) a database that holds anything but demo data.
async fn check_database(url: &str) -> Result<(), Failure> {
    let store = Store::connect(url, 2)
        .await
        .context("cannot connect to the database")?;
    let state = demo_store::inspect(store.pool())
        .await
        .context("cannot inspect the database")?;
    store.pool().close().await;
    match state {
        DatabaseState::Empty | DatabaseState::Demo => Ok(()),
        DatabaseState::Other(what) => Err(Failure::Config(format!(
            "centinela demo refuses this database: {what}. The demo only uses an empty database or one it seeded before; give it its own (scripts/demo creates centinela_demo)."
        ))),
    }
}

fn login_accounts() -> Vec<DemoAccount> {
    data::LOGIN_ACCOUNTS
        .iter()
        .filter_map(|email| data::ACCOUNTS.iter().find(|a| a.email == *email))
        .map(|a| DemoAccount {
            email: a.email.into(),
            password: a.password.into(),
            role: a.role.into(),
            name: a.name.into(),
        })
        .collect()
}

/// The demo settings the sidecar needs after start-up.
struct DemoRun {
    history_days: u32,
}

impl From<&Settings> for DemoRun {
    fn from(settings: &Settings) -> Self {
        DemoRun {
            history_days: settings.demo.history_days,
        }
    }
}

/// Runs beside the engine: history loading and the agent fleet start once HTTP listens.
struct DemoSidecar {
    store: Store,
    settings: DemoRun,
    agents: Option<fleet::AgentFleet>,
    routers: Option<fleet::Routers>,
    stop: watch::Sender<bool>,
    tasks: Vec<actix_rt::task::JoinHandle<()>>,
}

impl Sidecar for DemoSidecar {
    fn start(&mut self, http: SocketAddr) {
        print_welcome(http);
        if let Some(agents) = self.agents.take() {
            let stopped = self.stop.subscribe();
            self.tasks.push(actix_rt::spawn(async move {
                if let Err(error) = fleet::run_agents(agents, http, stopped).await {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "The demo's agent fleet stopped."
                    );
                }
            }));
        }
        let store = self.store.clone();
        let days = self.settings.history_days;
        let mut stopped = self.stop.subscribe();
        self.tasks.push(actix_rt::spawn(async move {
            tokio::select! {
                result = history::load(&store, days, chrono::Utc::now()) => match result {
                    Ok(0) => {}
                    Ok(n) => println!("demo: {n} days of metrics history loaded"),
                    Err(error) => tracing::error!(error = format!("{error:#}"), "Demo history not loaded."),
                },
                _ = stopped.wait_for(|s| *s) => {}
            }
        }));
    }

    fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(async move {
            let _ = self.stop.send(true);
            for task in self.tasks.drain(..) {
                let _ = task.await;
            }
            if let Some(mut routers) = self.routers.take() {
                routers.stop().await;
            }
            println!("demo: simulated fleet stopped");
        })
    }
}

fn print_welcome(http: SocketAddr) {
    println!();
    println!("Centinela demo: open http://{http}/ and click \"Modo demo\", or log in as:");
    for account in data::ACCOUNTS
        .iter()
        .filter(|a| a.role != "requester" || a.email == "solicitante1@lanetdemo.com")
    {
        println!(
            "  {:<30} {:<14} {} ({})",
            account.email, account.password, account.name, account.role
        );
    }
    println!("Ctrl-C stops everything.");
    println!();
}
