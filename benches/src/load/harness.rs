//! `centinela-load harness`: the five measurements of the performance issue, in one go, on this
//! machine, against a private engine (release binary, fresh database, TLS MQTT on a free port):
//!
//! 1. raw baseline: binary `COPY` of as many rows as the e2e target would store, same table;
//! 2. end to end, flat out: durable points/s (rows committed ÷ time to the last commit);
//! 3. half that rate: publish → `/ws/noc` alert latency (HDR p50/p90/p99/max);
//! 4. 100k registered devices, engine restarted so all actors are live, a few thousand agents
//!    connected and publishing slowly: resident memory;
//! 5. a burst at 10× the sustainable rate: peak memory (sampled every 100 ms) and acknowledged
//!    QoS 1 messages missing from the database;
//! 6. the API under load ([`api_phase`]): with the fleet at 7,000 msg/s, p95/p99 of ticket
//!    create, ticket list (10k), device list (2k, with health) and alert list. `--only api`
//!    runs this phase alone.

use crate::load::api::{self, Api, DeviceCreds};
use crate::load::api_phase::{self, ApiResult};
use crate::load::copy::{self, CopyResult};
use crate::load::engine::{self, Engine, EngineSpec};
use crate::load::fleet::{Drive, Fleet, Target, Wire};
use crate::load::noc::Noc;
use crate::load::payload::metric_names;
use crate::load::report::{Figure, Goal, Report};
use crate::load::run::{self, PhaseResult};
use crate::load::{db, prom};
use anyhow::{Context, Result};
use centinela_storage::Store;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Points in flight (sent, not yet committed) in the closed-loop flat-out phase: about a
/// second of the target rate, far below what the broker buffers (4 segments of 8 MiB).
pub const E2E_WINDOW_POINTS: u64 = 150_000;

const ADMIN_EMAIL: &str = "bench@centinela.invalid";
const ADMIN_PASSWORD: &str = "Bench-passw0rd!";

/// Harness options (see `centinela-load harness --help`).
#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub out: PathBuf,
    pub devices: usize,
    pub metrics: usize,
    pub breach: f64,
    pub idle_devices: i64,
    pub idle_clients: Option<usize>,
    /// Rate of the latency phase; `None` = half the measured sustainable rate.
    pub latency_rate: Option<f64>,
    pub engine_bin: PathBuf,
    pub engine_env: Vec<(String, String)>,
    pub command: String,
    /// Run only the API phase (6).
    pub only_api: bool,
}

/// Phase lengths.
#[derive(Debug, Clone, Copy)]
struct Plan {
    e2e: Duration,
    half: Duration,
    idle_settle: Duration,
    burst: Duration,
    idle_clients: usize,
    api: Duration,
}

impl Plan {
    fn of(o: &Options) -> Plan {
        let s = Duration::from_secs;
        let (e2e, half, idle_settle, burst, clients, api) = if o.quick {
            (s(15), s(12), s(8), s(8), 500, s(10))
        } else {
            (s(45), s(30), s(20), s(20), 2000, s(30))
        };
        Plan {
            e2e,
            half,
            idle_settle,
            burst,
            idle_clients: o.idle_clients.unwrap_or(clients),
            api,
        }
    }
}

/// A private engine with its database, admin, tenant, site and thresholds.
#[derive(Debug)]
pub struct Private {
    pub engine: Engine,
    pub spec: EngineSpec,
    pub store: Store,
    pub api: Api,
    pub tenant: Uuid,
    pub site: Uuid,
    pub site_key: String,
    pub postgres: String,
}

/// Starts the private engine on a fresh database and seeds it: a superadmin, a tenant on the
/// unlimited plan, a site and a critical `> 90` rule per metric name.
pub async fn start_private(
    engine_bin: &Path,
    out: &Path,
    env: &[(String, String)],
    names: &[String],
) -> Result<Private> {
    let cluster = std::env::var("DATABASE_URL").context(
        "DATABASE_URL is not set (run through scripts/bench, or eval \"$(scripts/pg)\")",
    )?;
    let database_url = db::fresh_database(&cluster).await?;
    let data_dir = out.join("engine-data");
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir)?;
    let log = out.join("engine.log");
    let _ = std::fs::remove_file(&log);
    let spec = EngineSpec {
        binary: engine_bin.to_owned(),
        database_url: database_url.clone(),
        data_dir,
        log,
        mqtt_port: engine::free_port()?,
        env: env.to_vec(),
    };
    let engine = start_engine(&spec).await?;
    engine::create_superadmin(engine_bin, &database_url, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let api = Api::login(&engine.url(""), ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let tenant = api.create_tenant("Bench MSP").await?;
    let (site, site_key) = api.create_site(tenant, "Bench site").await?;
    for name in names {
        api.create_threshold(tenant, name, 90.0).await?;
    }
    let store = Store::connect(&database_url, 4).await?;
    let postgres = db::server_version(&store).await.unwrap_or_default();
    Ok(Private {
        engine,
        spec,
        store,
        api,
        tenant,
        site,
        site_key,
        postgres,
    })
}

async fn start_engine(spec: &EngineSpec) -> Result<Engine> {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || Engine::start(&spec, Duration::from_secs(300))).await?
}

/// Enrolls agents with certificates, showing how long it took.
pub async fn enroll(private: &Private, count: usize, tls: bool) -> Result<Vec<DeviceCreds>> {
    let began = Instant::now();
    let creds = api::enroll_many(
        &private.engine.url(""),
        &private.site_key,
        "bench",
        count,
        tls,
        8,
    )
    .await?;
    eprintln!(
        "==> enrolled {count} agents (key, CSR, certificate) in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    Ok(creds)
}

fn context(private: &Private, names: &[String]) -> run::Context {
    run::Context {
        store: private.store.clone(),
        tenant: private.tenant,
        http: private.engine.http,
        pid: Some(private.engine.pid()),
        names: names.to_vec(),
        client: reqwest::Client::new(),
    }
}

fn target(private: &Private) -> Target {
    Target {
        http: private.engine.http,
        mqtt_port: private.engine.mqtt_port,
        wire: Wire::Mqtt,
    }
}

/// (6) The API under load: seeds the lists, then times the calls while the fleet publishes at
/// [`api_phase::RATE`]. Returns the latencies and the rate the fleet actually reached.
async fn api_load(
    private: &Private,
    fleet: &Fleet,
    names: &[String],
    o: &Options,
    plan: &Plan,
) -> Result<(ApiResult, f64)> {
    eprintln!(
        "==> (6) API under load: fleet at {} msg/s, {} s",
        api_phase::RATE,
        plan.api.as_secs()
    );
    api_phase::seed(&private.store, private.tenant, private.site, fleet.len()).await?;
    let ctx = context(private, names);
    let drive = Drive {
        rate: Some(api_phase::RATE),
        duration: plan.api,
        names: names.to_vec(),
        breach: o.breach,
        seed: 6,
        credit: None,
    };
    let base = private.engine.url("");
    // The API client stands for an operator's browser on another machine: it gets a thread and
    // a runtime of its own (as the NOC subscriber does), so that its calls are not polled late
    // behind the fleet's 7,000 publishes a second on the harness's runtime.
    let (token, tenant, site, secs) = (
        private.api.token.clone(),
        private.tenant,
        private.site,
        plan.api,
    );
    let client = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("the API client's runtime")?
            .block_on(api_phase::measure(&base, &token, tenant, site, secs))
    });
    let (load, api) = tokio::join!(
        run::phase(&ctx, "api", fleet, None, &drive, None, false),
        client,
    );
    let load = load?;
    let api = api.context("the API client's thread")??;
    for s in &api.ops {
        eprintln!(
            "    {}: {} calls, {} failed, p95 {:.1} ms, p99 {:.1} ms",
            s.op.key(),
            s.count,
            s.errors,
            s.p95_ms,
            s.p99_ms
        );
    }
    Ok((api, load.accepted_msgs_per_s))
}

fn api_figures(api: &ApiResult, fleet_rate: f64) -> Vec<Figure> {
    let mut figures = vec![Figure::new(
        "api_fleet_msgs_per_s",
        "(6) fleet during the API phase",
        fleet_rate,
        "msg/s",
        Goal::None,
    )];
    figures.extend(api.figures());
    figures
}

/// `--only api`: a private engine, the fleet, phase (6), the report.
async fn api_only(o: Options) -> Result<Report> {
    let plan = Plan::of(&o);
    std::fs::create_dir_all(&o.out)?;
    let started_at = chrono::Utc::now();
    let began = Instant::now();
    let names = metric_names(o.metrics);
    let private = start_private(&o.engine_bin, &o.out, &o.engine_env, &names).await?;
    let creds = enroll(&private, o.devices, true).await?;
    let fleet = Fleet::connect(&creds, target(&private), 64).await?;
    let (api, fleet_rate) = api_load(&private, &fleet, &names, &o, &plan).await?;
    fleet.shutdown().await;
    let database_url = private.spec.database_url.clone();
    let Private {
        engine, postgres, ..
    } = private;
    let _ = tokio::task::spawn_blocking(move || engine.stop(Duration::from_secs(60))).await?;
    if let Ok(cluster) = std::env::var("DATABASE_URL")
        && let Err(error) = db::drop_database(&cluster, &database_url).await
    {
        eprintln!("==> could not drop the harness database: {error}");
    }
    let mut report = Report {
        figures: api_figures(&api, fleet_rate),
        ..Report::default()
    };
    let c = &mut report.context;
    c.insert("command".into(), json!(o.command));
    c.insert("started_at".into(), json!(started_at.to_rfc3339()));
    c.insert("quick".into(), json!(o.quick));
    c.insert("only".into(), json!("api"));
    c.insert(
        "wall_secs".into(),
        json!(began.elapsed().as_secs_f64().round()),
    );
    c.insert("machine".into(), machine(&postgres));
    c.insert("phases".into(), json!({"api": api.json()}));
    write(&report, &o.out)?;
    Ok(report)
}

/// Runs the whole harness (or, with `only_api`, phase 6 alone) and writes the report.
pub async fn harness(o: Options) -> Result<Report> {
    if o.only_api {
        return api_only(o).await;
    }
    let plan = Plan::of(&o);
    std::fs::create_dir_all(&o.out)?;
    let started_at = chrono::Utc::now();
    let began = Instant::now();
    let names = metric_names(o.metrics);
    let mut private = start_private(&o.engine_bin, &o.out, &o.engine_env, &names).await?;
    let creds = enroll(&private, o.devices.max(plan.idle_clients), true).await?;
    let run_creds = &creds[..o.devices];
    let ids: Vec<Uuid> = run_creds.iter().map(|c| c.id).collect();

    // (1) The raw baseline.
    let rows = (150_000.0 * plan.e2e.as_secs_f64()) as u64;
    eprintln!("==> (1) raw COPY baseline: {rows} rows");
    let baseline = copy::baseline(
        &private.store,
        Uuid::new_v4(),
        &ids,
        &names,
        chrono::Utc::now(),
        rows,
        20_000,
    )
    .await?;
    eprintln!("    {:.0} rows/s", baseline.rows_per_s);

    // (2) and (3) on one fleet, with the NOC listening.
    let ctx = context(&private, &names);
    let fleet = Fleet::connect(run_creds, target(&private), 64).await?;
    let noc = Noc::connect(private.engine.http, &private.api.token, &names).await?;
    let drive = |rate, duration, seed| Drive {
        rate,
        duration,
        names: names.clone(),
        breach: o.breach,
        seed,
        credit: None,
    };
    eprintln!("==> (2) end to end, flat out, {} s", plan.e2e.as_secs());
    let e2e = run::phase(
        &ctx,
        "e2e",
        &fleet,
        Some(&noc),
        &drive(None, plan.e2e, 1),
        Some(E2E_WINDOW_POINTS),
        true,
    )
    .await?;
    let sustainable = (e2e.durable_points_per_s / names.len() as f64).max(1.0);
    let half_rate = o.latency_rate.unwrap_or(sustainable / 2.0);
    eprintln!(
        "==> (3) latency phase: {half_rate:.0} msg/s, {} s",
        plan.half.as_secs()
    );
    let half = run::phase(
        &ctx,
        "half",
        &fleet,
        Some(&noc),
        &drive(Some(half_rate), plan.half, 2),
        None,
        false,
    )
    .await?;
    noc.close();
    // (6) runs here, on the connected fleet, before the 100k devices of (4) are loaded.
    let (api, api_fleet_rate) = api_load(&private, &fleet, &names, &o, &plan).await?;
    fleet.shutdown().await;

    // (4) 100k live actors.
    let (idle, idle_connected) = idle_phase(&mut private, &o, &plan, &creds).await?;

    // (5) The burst.
    let burst_rate = sustainable * 10.0;
    eprintln!(
        "==> (5) burst: {burst_rate:.0} msg/s offered (10x), {} s",
        plan.burst.as_secs()
    );
    let ctx = context(&private, &names);
    let fleet = Fleet::connect(run_creds, target(&private), 64).await?;
    let burst = run::phase(
        &ctx,
        "burst",
        &fleet,
        None,
        &drive(Some(burst_rate), plan.burst, 3),
        None,
        true,
    )
    .await?;
    fleet.shutdown().await;
    let engine_log = private.spec.log.clone();
    let database_url = private.spec.database_url.clone();
    let Private {
        engine, postgres, ..
    } = private;
    let _ = tokio::task::spawn_blocking(move || engine.stop(Duration::from_secs(60))).await?;
    // Millions of rows per run: the database goes once the figures are taken.
    if let Ok(cluster) = std::env::var("DATABASE_URL")
        && let Err(error) = db::drop_database(&cluster, &database_url).await
    {
        eprintln!("==> could not drop the harness database: {error}");
    }

    let mut figures = figures(&baseline, &e2e, &half, &idle, &burst);
    figures.extend(api_figures(&api, api_fleet_rate));
    let mut report = Report {
        figures,
        ..Report::default()
    };
    let c = &mut report.context;
    c.insert("command".into(), json!(o.command));
    c.insert("started_at".into(), json!(started_at.to_rfc3339()));
    c.insert("quick".into(), json!(o.quick));
    c.insert(
        "wall_secs".into(),
        json!(began.elapsed().as_secs_f64().round()),
    );
    c.insert("machine".into(), machine(&postgres));
    c.insert("engine_log".into(), json!(engine_log.display().to_string()));
    c.insert(
        "workload".into(),
        json!({
            "devices": o.devices, "metrics_per_message": names.len(), "breach_fraction": o.breach,
            "transport": "mqtt/tls qos1, one client certificate per device",
            "e2e_secs": plan.e2e.as_secs(), "half_secs": plan.half.as_secs(),
            "burst_secs": plan.burst.as_secs(), "idle_clients": plan.idle_clients,
            "api_secs": plan.api.as_secs(),
            "engine_env": o.engine_env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        }),
    );
    c.insert(
        "phases".into(),
        json!({
            "copy": {"rows": baseline.rows, "secs": baseline.secs},
            "e2e": phase_json(&e2e, names.len()),
            "half": phase_json(&half, names.len()),
            "half_rate_msgs_per_s": half_rate,
            "idle": {"connected_clients": idle_connected},
            "burst": phase_json(&burst, names.len()),
            "burst_offered_msgs_per_s": burst_rate,
            "api": api.json(),
        }),
    );
    write(&report, &o.out)?;
    Ok(report)
}

/// Idle memory of 100k live device actors.
#[derive(Debug, Default, Clone, Copy)]
struct Idle {
    devices: f64,
    rss_mib: f64,
}

async fn idle_phase(
    private: &mut Private,
    o: &Options,
    plan: &Plan,
    creds: &[DeviceCreds],
) -> Result<(Idle, usize)> {
    let more = (o.idle_devices - creds.len() as i64).max(0);
    eprintln!(
        "==> (4) {} registered devices: inserting {more} in bulk, restarting the engine",
        o.idle_devices
    );
    db::insert_idle_devices(&private.store, private.tenant, private.site, more).await?;
    let restart = Instant::now();
    let spec = private.spec.clone();
    tokio::task::block_in_place(|| private.engine.restart(&spec, Duration::from_secs(300)))?;
    eprintln!(
        "    engine up again in {:.1} s",
        restart.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::new();
    let actors = wait_actors(&client, &private.engine, o.idle_devices as f64).await;
    let clients = &creds[..plan.idle_clients.min(creds.len())];
    let fleet = Fleet::connect(clients, target(private), 32).await?;
    eprintln!(
        "    {} agents connected; publishing every 5 s for {} s",
        fleet.len(),
        plan.idle_settle.as_secs()
    );
    let ctx = context(private, &metric_names(o.metrics));
    let slow = Drive {
        rate: Some(fleet.len() as f64 / 5.0),
        duration: plan.idle_settle,
        names: metric_names(o.metrics),
        breach: 0.0,
        seed: 4,
        credit: None,
    };
    run::phase(&ctx, "idle", &fleet, None, &slow, None, false).await?;
    let rss_kib = private.engine.rss_kib().unwrap_or(0);
    let connected = fleet.len();
    fleet.shutdown().await;
    let actors = actors.max(
        gauge(&client, &private.engine, "centinela_device_actors")
            .await
            .unwrap_or(0.0),
    );
    Ok((
        Idle {
            devices: actors,
            rss_mib: rss_kib as f64 / 1024.0,
        },
        connected,
    ))
}

async fn gauge(client: &reqwest::Client, engine: &Engine, name: &str) -> Option<f64> {
    let text = client
        .get(engine.url("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    prom::value(&text, name, false)
}

/// Waits until the engine reports `expected` live device actors (or 120 s pass).
async fn wait_actors(client: &reqwest::Client, engine: &Engine, expected: f64) -> f64 {
    let began = Instant::now();
    let mut seen = 0.0;
    while began.elapsed() < Duration::from_secs(120) {
        seen = gauge(client, engine, "centinela_device_actors")
            .await
            .unwrap_or(0.0);
        if seen >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "    {seen:.0} device actors live after {:.1} s",
        began.elapsed().as_secs_f64()
    );
    seen
}

fn phase_json(p: &PhaseResult, metrics: usize) -> Value {
    json!({
        "sent_msgs": p.sent.sent, "acked_msgs": p.sent.acked, "breaching_values": p.sent.breaches,
        "send_secs": p.sent.send_secs, "stored_rows": p.stored_rows,
        "expected_rows": p.sent.acked * metrics as u64,
        "commit_secs": p.commit_secs, "durable_points_per_s": p.durable_points_per_s,
        "accepted_msgs_per_s": p.accepted_msgs_per_s,
        "alerts_timed": p.latency.count, "latency_ms": {
            "p50": p.latency.p50_ms, "p90": p.latency.p90_ms, "p99": p.latency.p99_ms, "max": p.latency.max_ms},
        "peak_rss_mib": p.peak_rss_kib.map(|k| k as f64 / 1024.0),
        "lost_messages": p.lost_messages,
        "engine_counters_delta": p.engine_counters,
        "cpu_secs": {"engine": p.cpu_secs.engine, "postgres": p.cpu_secs.postgres,
            "load_tool": p.cpu_secs.load_tool},
    })
}

fn figures(
    copy: &CopyResult,
    e2e: &PhaseResult,
    half: &PhaseResult,
    idle: &Idle,
    burst: &PhaseResult,
) -> Vec<Figure> {
    let ratio = e2e.durable_points_per_s / copy.rows_per_s.max(1.0);
    let l = &half.latency;
    let mib = |k: Option<u64>| k.unwrap_or(0) as f64 / 1024.0;
    vec![
        Figure::new(
            "copy_baseline_rows_per_s",
            "(1) raw COPY baseline",
            copy.rows_per_s,
            "rows/s",
            Goal::None,
        ),
        Figure::new(
            "e2e_points_per_s",
            "(2) e2e durable, flat out",
            e2e.durable_points_per_s,
            "pts/s",
            Goal::AtLeast(150_000.0),
        ),
        Figure::new(
            "e2e_to_copy_ratio",
            "(2) e2e / COPY",
            ratio,
            "",
            Goal::AtLeast(0.6),
        ),
        Figure::new(
            "e2e_accepted_msgs_per_s",
            "(2) e2e accepted (PUBACK)",
            e2e.accepted_msgs_per_s,
            "msg/s",
            Goal::None,
        ),
        Figure::new(
            "e2e_lost_messages",
            "(2) e2e acked but not stored",
            e2e.lost_messages.unwrap_or(0) as f64,
            "msgs",
            Goal::AtMost(0.0),
        ),
        Figure::new(
            "half_rate_msgs_per_s",
            "(3) latency phase, offered",
            half.sent.sent as f64 / half.sent.send_secs.max(1e-3),
            "msg/s",
            Goal::None,
        ),
        Figure::new(
            "alert_latency_p50_ms",
            "(3) alert latency p50",
            l.p50_ms,
            "ms",
            Goal::None,
        ),
        Figure::new(
            "alert_latency_p90_ms",
            "(3) alert latency p90",
            l.p90_ms,
            "ms",
            Goal::None,
        ),
        Figure::new(
            "alert_latency_p99_ms",
            "(3) alert latency p99",
            l.p99_ms,
            "ms",
            Goal::AtMost(50.0),
        ),
        Figure::new(
            "alert_latency_max_ms",
            "(3) alert latency max",
            l.max_ms,
            "ms",
            Goal::None,
        ),
        Figure::new(
            "alerts_timed",
            "(3) alerts timed",
            l.count as f64,
            "",
            Goal::None,
        ),
        Figure::new(
            "idle_devices",
            "(4) live device actors",
            idle.devices,
            "",
            Goal::AtLeast(100_000.0),
        ),
        Figure::new(
            "idle_rss_mib",
            "(4) engine RSS, 100k actors",
            idle.rss_mib,
            "MiB",
            Goal::AtMost(1024.0),
        ),
        Figure::new(
            "burst_accepted_msgs_per_s",
            "(5) burst accepted (PUBACK)",
            burst.accepted_msgs_per_s,
            "msg/s",
            Goal::None,
        ),
        Figure::new(
            "burst_peak_rss_mib",
            "(5) burst peak RSS",
            mib(burst.peak_rss_kib),
            "MiB",
            Goal::AtMost(1024.0),
        ),
        Figure::new(
            "burst_lost_messages",
            "(5) burst acked but not stored",
            burst.lost_messages.unwrap_or(0) as f64,
            "msgs",
            Goal::AtMost(0.0),
        ),
    ]
}

/// Cores, memory, CPU, kernel, PostgreSQL and the load when the run began.
pub fn machine(postgres: &str) -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let meminfo = read("/proc/meminfo");
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu": cpu,
        "ram_gib": (engine::status_field_kib(&meminfo, "MemTotal:").unwrap_or(0) as f64 / 1_048_576.0 * 10.0).round() / 10.0,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "postgresql": postgres,
        "loadavg_at_end": read("/proc/loadavg").trim(),
    })
}

/// Writes `report.json` and `report.md` into `out`.
pub fn write(report: &Report, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let json = serde_json::to_string_pretty(&report.json())?;
    std::fs::write(out.join("report.json"), json + "\n")?;
    std::fs::write(out.join("report.md"), report.markdown())?;
    Ok(())
}
