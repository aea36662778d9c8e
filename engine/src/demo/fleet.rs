//! The demo's simulated fleet: RouterOS simulators on loopback (the project's simulator, one
//! per seeded router, each playing its scenario) and the agents (the agent crate's fleet
//! simulator: each seeded agent gets a certificate over the real enrollment API and publishes
//! over MQTT/TLS with it).

use super::data::RouterScenario;
use super::seed::{ROUTER_PASSWORD, ROUTER_USER, SeededRouter};
use anyhow::{Context, Result};
use centinela_agent::cert;
use centinela_agent::config::{Intervals, MqttEndpoint};
use centinela_agent::enroll::{EnrollClient, EnrollResponse};
use centinela_agent::simulate::{self, SimDevice, SimState, SimulateOptions};
use centinela_agent::transport::TransportKind;
use centinela_routeros_sim::{Scenario, SimConfig, SimHandle};
use centinela_storage::devices::Device;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Certificates requested at once while preparing the fleet.
const CERTIFICATE_CONCURRENCY: usize = 16;

/// The scenario TOML of a router (times in seconds since its simulator started).
fn scenario_toml(name: &str, scenario: RouterScenario) -> String {
    let mut toml = format!(
        "[router]\nidentity = \"{name}\"\n\n[[resource]]\nat = 0\ncpu_load = 9\n\n\
         [[interface]]\nname = \"ether1\"\ncomment = \"WAN\"\nrx_bps = 6000000\ntx_bps = 900000\n\n\
         [[interface]]\nname = \"ether2\"\ncomment = \"LAN oficinas\"\nrx_bps = 800000\ntx_bps = 4000000\n"
    );
    match scenario {
        RouterScenario::BruteForce => {
            // A burst of eight SSH login failures every ten minutes, from the same address.
            for k in 0..24 {
                toml += &format!(
                    "\n[[log]]\nat = {}\ntopics = \"system,error,critical\"\n\
                     message = \"login failure for user admin from 203.0.113.45 via ssh\"\n\
                     repeat = 8\nevery = 2\n",
                    15 + 600 * k
                );
            }
        }
        RouterScenario::PppoeFlapping => {
            // The PPPoE uplink drops four times in three minutes, every half hour.
            for k in 0..8 {
                let at = 20 + 1800 * k;
                toml += &format!(
                    "\n[[log]]\nat = {at}\ntopics = \"pppoe,ppp,info\"\n\
                     message = \"pppoe-out1: disconnected\"\nrepeat = 4\nevery = 45\n\
                     \n[[log]]\nat = {}\ntopics = \"pppoe,ppp,info\"\n\
                     message = \"pppoe-out1: connected\"\nrepeat = 4\nevery = 45\n",
                    at + 5
                );
            }
        }
        RouterScenario::LinkDown => {
            // The warehouse link goes down for three minutes, every half hour.
            let flaps: Vec<String> = (0..8)
                .map(|k| format!("{{ at = {}, down_for = 180 }}", 30 + 1800 * k))
                .collect();
            toml += &format!(
                "\n[[interface]]\nname = \"ether3\"\ncomment = \"Bodega\"\nrx_bps = 300000\n\
                 tx_bps = 200000\nflaps = [{}]\n",
                flaps.join(", ")
            );
        }
        RouterScenario::Quiet | RouterScenario::Unreachable => {}
    }
    toml
}

fn sim_config(router: &SeededRouter, listen: SocketAddr) -> Result<SimConfig> {
    let scenario = Scenario::from_toml_str(&scenario_toml(&router.name, router.scenario))
        .with_context(|| format!("scenario of {}", router.name))?;
    Ok(SimConfig {
        listen,
        users: vec![(ROUTER_USER.into(), ROUTER_PASSWORD.into())],
        scenario,
        ..SimConfig::default()
    })
}

/// The running router simulators.
pub struct Routers {
    pub ports: HashMap<Uuid, u16>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Routers {
    /// Stops every simulator and waits for them.
    pub async fn stop(&mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

/// Starts one simulator per router on `127.0.0.1` (free ports); the unreachable one stops
/// answering `outage_after` after the start, for `outage`.
pub async fn start_routers(
    routers: &[SeededRouter],
    outage_after: Duration,
    outage: Duration,
) -> Result<Routers> {
    let (stop, stopped) = watch::channel(false);
    let mut ports = HashMap::new();
    let mut tasks = Vec::new();
    for router in routers {
        let config = sim_config(router, SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let handle = centinela_routeros_sim::start(config)
            .await
            .with_context(|| format!("cannot start the simulator of {}", router.name))?;
        let addr = handle.local_addr();
        ports.insert(router.device_id, addr.port());
        let outage =
            (router.scenario == RouterScenario::Unreachable).then_some((outage_after, outage));
        tasks.push(actix_rt::spawn(run_router(
            router.clone(),
            handle,
            addr,
            outage,
            stopped.clone(),
        )));
    }
    Ok(Routers { ports, stop, tasks })
}

async fn run_router(
    router: SeededRouter,
    handle: SimHandle,
    addr: SocketAddr,
    outage: Option<(Duration, Duration)>,
    mut stopped: watch::Receiver<bool>,
) {
    let Some((after, down_for)) = outage else {
        let _ = stopped.wait_for(|s| *s).await;
        handle.shutdown().await;
        return;
    };
    tokio::select! {
        _ = stopped.wait_for(|s| *s) => { handle.shutdown().await; return; }
        () = tokio::time::sleep(after) => {}
    }
    handle.shutdown().await;
    println!(
        "demo: {} stops answering for {} s",
        router.name,
        down_for.as_secs()
    );
    tokio::select! {
        _ = stopped.wait_for(|s| *s) => return,
        () = tokio::time::sleep(down_for) => {}
    }
    let restarted = match sim_config(&router, addr) {
        Ok(config) => centinela_routeros_sim::start(config)
            .await
            .map_err(anyhow::Error::from),
        Err(error) => Err(error),
    };
    match restarted {
        Ok(handle) => {
            println!("demo: {} answers again", router.name);
            let _ = stopped.wait_for(|s| *s).await;
            handle.shutdown().await;
        }
        Err(error) => {
            tracing::warn!(router = %router.name, %error, "The demo router could not come back.")
        }
    }
}

/// What the agent fleet needs.
#[derive(Debug, Clone)]
pub struct AgentFleet {
    pub agents: Vec<(Device, String)>,
    pub mqtt: (String, u16),
    pub interval: Duration,
    pub breach_pct: f64,
    pub state_file: PathBuf,
}

/// Gets a certificate for every agent through `/api/agents/certificate`, writes the
/// simulator's state file and runs the fleet until `shutdown` turns true.
pub async fn run_agents(
    fleet: AgentFleet,
    http: SocketAddr,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let server = format!("http://{http}");
    let client = EnrollClient::new(&server)?;
    let interval_s = fleet.interval.as_secs().max(1);
    let devices: Vec<SimDevice> = futures_util::stream::iter(fleet.agents.iter())
        .map(|(device, token)| prepare(&client, &server, &fleet, interval_s, device, token))
        .buffer_unordered(CERTIFICATE_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let n = devices.len();
    if let Some(dir) = fleet.state_file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    SimState {
        server: client.server().to_owned(),
        devices,
    }
    .save(&fleet.state_file)?;
    println!("demo: {n} simulated agents connecting over MQTT/TLS");
    let options = SimulateOptions {
        server,
        site_key: String::new(),
        devices: n,
        interval: fleet.interval,
        state_file: fleet.state_file,
        transport: TransportKind::Mqtt,
        breach_pct: fleet.breach_pct,
    };
    simulate::simulate(options, shutdown).await?;
    Ok(())
}

async fn prepare(
    client: &EnrollClient,
    server: &str,
    fleet: &AgentFleet,
    interval_s: u64,
    device: &Device,
    token: &str,
) -> Result<SimDevice> {
    let keys = cert::generate_key_and_csr(&device.device_key)?;
    let certificate = client
        .certificate(token, &keys.csr_pem)
        .await
        .with_context(|| format!("certificate of {}", device.name))?;
    Ok(SimDevice {
        hostname: device.name.clone(),
        enrolled: EnrollResponse {
            device_id: device.id.to_string(),
            device_key: device.device_key.clone(),
            device_token: token.to_owned(),
            mqtt: MqttEndpoint {
                host: fleet.mqtt.0.clone(),
                port: fleet.mqtt.1,
            },
            ws_url: format!("{}/ws/agent", server.replacen("http", "ws", 1)),
            intervals: Intervals {
                telemetry_s: interval_s,
                heartbeat_s: interval_s,
                inventory_s: 86_400,
            },
            // Simulated agents refuse every command; they never check a signature.
            command_public_key: String::new(),
        },
        key_pem: keys.key_pem,
        certificate,
    })
}
