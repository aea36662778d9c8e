//! `centinela-load`: drives agents against a Centinela engine and measures what it stores and
//! how fast its alerts arrive. `run` is one load phase; `harness` runs the five measurements of
//! the performance issue against a private engine and writes `report.json` and `report.md`.

use anyhow::{Context, Result, bail};
use centinela_benches::load::api::Api;
use centinela_benches::load::fleet::{Drive, Fleet, Target, Wire};
use centinela_benches::load::harness::{self, Options};
use centinela_benches::load::noc::Noc;
use centinela_benches::load::payload::metric_names;
use centinela_benches::load::report::{Figure, Goal, Report};
use centinela_benches::load::{api, run};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(
    name = "centinela-load",
    about = "Load generator and benchmark harness for Centinela"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One load phase: N devices x M metrics per message at a rate or flat out.
    Run(RunArgs),
    /// The measurements of the performance issue, and the API phase, on a private engine (see
    /// BENCHMARKS.md).
    Harness(HarnessArgs),
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Devices (one connection and one certificate each).
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Metrics per message (one `> 90` rule each).
    #[arg(long, default_value_t = 10)]
    metrics: usize,
    /// Fraction of values that breach (95 for a `> 90` rule; others are 10-80).
    #[arg(long, default_value_t = 0.002)]
    breach: f64,
    /// Where reports and the engine's log and files go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// The engine binary (default: `centinela` beside this program).
    #[arg(long)]
    engine_bin: Option<PathBuf>,
    /// Extra engine setting for the private engine, e.g. CENTINELA_STORAGE__BATCH_ROWS=50000.
    #[arg(long = "engine-env", value_name = "KEY=VALUE", value_parser = key_value)]
    engine_env: Vec<(String, String)>,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Target rate in messages per second over all devices.
    #[arg(
        long,
        conflicts_with = "flat_out",
        required_unless_present = "flat_out"
    )]
    rate: Option<f64>,
    /// Publish as fast as the engine commits: at most --window points sent and not yet
    /// committed (the broker acknowledges on receipt, so PUBACKs alone do not pace a client).
    #[arg(long)]
    flat_out: bool,
    /// Points in flight for --flat-out; 0 = no limit (as fast as the broker acknowledges).
    #[arg(long, default_value_t = 150_000)]
    window: u64,
    /// How long to send: `30s`, `2m` or seconds.
    #[arg(long, default_value = "30s", value_parser = duration)]
    duration: Duration,
    /// MQTT/TLS with client certificates, or the `/ws/agent` WebSocket.
    #[arg(long = "transport", value_enum, default_value = "mqtt")]
    wire: Wire,
    /// Look every acknowledged message up in the database afterwards.
    #[arg(long)]
    check_lost: bool,
    /// An engine that is already running (default: start a private one). Needs --site-key,
    /// --email, --password and DATABASE_URL of its database.
    #[arg(long, requires_all = ["site_key", "email", "password"])]
    engine_url: Option<String>,
    /// MQTT/TLS port of the running engine.
    #[arg(long, default_value_t = 8883)]
    mqtt_port: u16,
    /// Site key to enroll the devices with (running engine).
    #[arg(long)]
    site_key: Option<String>,
    /// A user who sees the site's tenant, for `/ws/noc` (running engine).
    #[arg(long)]
    email: Option<String>,
    #[arg(long, env = "CENTINELA_LOAD_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

#[derive(Args, Debug)]
struct HarnessArgs {
    #[command(flatten)]
    common: Common,
    /// The ~2-minute version: shorter phases, fewer connected idle agents, same table.
    #[arg(long)]
    quick: bool,
    /// Registered devices for the memory phase.
    #[arg(long, default_value_t = 100_000)]
    idle_devices: i64,
    /// Agents connected during the memory phase (default 2000, 500 with --quick).
    #[arg(long)]
    idle_clients: Option<usize>,
    /// Messages per second of the alert-latency phase (3). Default: half the rate measured in
    /// phase (2), which moves with each run; a fixed rate (e.g. 7000) compares runs and
    /// branches at the same load.
    #[arg(long, value_parser = positive_rate)]
    latency_rate: Option<f64>,
    /// Run one phase alone: `api` = phase (6), the API's p95/p99 under a 7,000 msg/s fleet
    /// (a few minutes, about one with --quick).
    #[arg(long, value_enum)]
    only: Option<OnlyPhase>,
}

/// Phases that run alone.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum OnlyPhase {
    Api,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "`{s}` is not a positive number of messages per second"
        )),
    }
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if k.starts_with("CENTINELA_") => Ok((k.to_owned(), v.to_owned())),
        _ => Err("expected CENTINELA_<SECTION>__<KEY>=VALUE".into()),
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = n.parse().map_err(|_| format!("bad duration `{s}`"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60.0,
        "ms" => n / 1000.0,
        _ => return Err(format!("bad duration unit in `{s}` (s, m, ms)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn engine_bin(given: &Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.clone());
    }
    let me = std::env::current_exe()?;
    Ok(me.with_file_name("centinela"))
}

fn command_line() -> String {
    std::env::var("CENTINELA_BENCH_COMMAND")
        .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "))
}

#[tokio::main]
async fn main() -> Result<()> {
    // rumqttc is built without a rustls provider: install ring before any TLS.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::Harness(args) => {
            let c = args.common;
            let options = Options {
                quick: args.quick,
                out: c.out.clone(),
                devices: c.devices.max(1),
                metrics: c.metrics.max(1),
                breach: c.breach,
                idle_devices: args.idle_devices,
                idle_clients: args.idle_clients,
                latency_rate: args.latency_rate,
                engine_bin: engine_bin(&c.engine_bin)?,
                engine_env: c.engine_env,
                command: command_line(),
                only_api: args.only == Some(OnlyPhase::Api),
            };
            let report = harness::harness(options).await?;
            println!("\n{}", report.table());
            println!("report: {}", c.out.join("report.json").display());
        }
        Command::Run(args) => run_once(args).await?,
    }
    Ok(())
}

/// Where a `run` goes: the private engine (kept alive until the end) or a running one.
struct Setup {
    _private: Option<harness::Private>,
    http: SocketAddr,
    mqtt_port: u16,
    pid: Option<u32>,
    store: centinela_storage::Store,
    tenant: Uuid,
    site_key: String,
    token: String,
}

async fn setup(args: &RunArgs, names: &[String]) -> Result<Setup> {
    let Some(url) = &args.engine_url else {
        let c = &args.common;
        std::fs::create_dir_all(&c.out)?;
        let p = harness::start_private(&engine_bin(&c.engine_bin)?, &c.out, &c.engine_env, names)
            .await?;
        return Ok(Setup {
            http: p.engine.http,
            mqtt_port: p.engine.mqtt_port,
            pid: Some(p.engine.pid()),
            store: p.store.clone(),
            tenant: p.tenant,
            site_key: p.site_key.clone(),
            token: p.api.token.clone(),
            _private: Some(p),
        });
    };
    let base = url.trim_end_matches('/');
    let http: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .context("--engine-url must be http://IP:PORT")?;
    let site_key = args.site_key.clone().context("--site-key")?;
    let api = Api::login(
        base,
        args.email.as_deref().unwrap_or_default(),
        args.password.as_deref().unwrap_or_default(),
    )
    .await?;
    let db = std::env::var("DATABASE_URL").context("DATABASE_URL of the engine's database")?;
    let store = centinela_storage::Store::connect(&db, 4).await?;
    let mut tx = store.begin(centinela_model::Scope::All).await?;
    let Some(site) = centinela_storage::sites::by_site_key(&mut tx, &site_key).await? else {
        bail!("no site has this key in DATABASE_URL's database");
    };
    tx.commit().await?;
    Ok(Setup {
        _private: None,
        http,
        mqtt_port: args.mqtt_port,
        pid: None,
        store,
        tenant: site.tenant_id,
        site_key,
        token: api.token,
    })
}

async fn run_once(args: RunArgs) -> Result<()> {
    let names = metric_names(args.common.metrics.max(1));
    let s = setup(&args, &names).await?;
    let base = format!("http://{}", s.http);
    let tls = args.wire == Wire::Mqtt;
    let creds = api::enroll_many(
        &base,
        &s.site_key,
        "load",
        args.common.devices.max(1),
        tls,
        8,
    )
    .await?;
    let target = Target {
        http: s.http,
        mqtt_port: s.mqtt_port,
        wire: args.wire,
    };
    let fleet = Fleet::connect(&creds, target, 64).await?;
    let noc = Noc::connect(s.http, &s.token, &names).await?;
    eprintln!("==> {} devices connected over {:?}", fleet.len(), args.wire);
    let ctx = run::Context {
        store: s.store.clone(),
        tenant: s.tenant,
        http: s.http,
        pid: s.pid,
        names: names.clone(),
        client: reqwest::Client::new(),
    };
    let drive = Drive {
        rate: if args.flat_out { None } else { args.rate },
        duration: args.duration,
        names: names.clone(),
        breach: args.common.breach,
        seed: 1,
        credit: None,
    };
    let window = args.flat_out.then_some(args.window).filter(|w| *w > 0);
    let r = run::phase(
        &ctx,
        "run",
        &fleet,
        Some(&noc),
        &drive,
        window,
        args.check_lost,
    )
    .await?;
    noc.close();
    fleet.shutdown().await;
    let l = r.latency;
    let mut figures = vec![
        Figure::new("sent_msgs", "sent", r.sent.sent as f64, "msgs", Goal::None),
        Figure::new(
            "acked_msgs",
            "acknowledged",
            r.sent.acked as f64,
            "msgs",
            Goal::None,
        ),
        Figure::new(
            "stored_rows",
            "stored",
            r.stored_rows as f64,
            "rows",
            Goal::None,
        ),
        Figure::new(
            "expected_rows",
            "acknowledged x metrics",
            (r.sent.acked * names.len() as u64) as f64,
            "rows",
            Goal::None,
        ),
        Figure::new(
            "accepted_msgs_per_s",
            "accepted",
            r.accepted_msgs_per_s,
            "msg/s",
            Goal::None,
        ),
        Figure::new(
            "durable_points_per_s",
            "durable",
            r.durable_points_per_s,
            "pts/s",
            Goal::None,
        ),
        Figure::new(
            "breaching_values",
            "breaching values sent",
            r.sent.breaches as f64,
            "",
            Goal::None,
        ),
        Figure::new(
            "alerts_timed",
            "alerts timed",
            l.count as f64,
            "",
            Goal::None,
        ),
        Figure::new(
            "alert_latency_p50_ms",
            "alert latency p50",
            l.p50_ms,
            "ms",
            Goal::None,
        ),
        Figure::new(
            "alert_latency_p90_ms",
            "alert latency p90",
            l.p90_ms,
            "ms",
            Goal::None,
        ),
        Figure::new(
            "alert_latency_p99_ms",
            "alert latency p99",
            l.p99_ms,
            "ms",
            Goal::AtMost(50.0),
        ),
        Figure::new(
            "alert_latency_max_ms",
            "alert latency max",
            l.max_ms,
            "ms",
            Goal::None,
        ),
        Figure::new(
            "peak_rss_mib",
            "engine peak RSS",
            r.peak_rss_kib.unwrap_or(0) as f64 / 1024.0,
            "MiB",
            Goal::None,
        ),
    ];
    if let Some(lost) = r.lost_messages {
        figures.push(Figure::new(
            "lost_messages",
            "acked but not stored",
            lost as f64,
            "msgs",
            Goal::AtMost(0.0),
        ));
    }
    let mut report = Report {
        figures,
        ..Report::default()
    };
    report
        .context
        .insert("command".into(), json!(command_line()));
    println!("\n{}", report.table());
    println!("engine counters during the run: {:?}", r.engine_counters);
    if let Some(private) = s._private {
        // A private engine's database holds the run's rows only: drop it with the engine.
        let url = private.spec.database_url.clone();
        let engine = private.engine;
        let _ = tokio::task::spawn_blocking(move || engine.stop(Duration::from_secs(60))).await?;
        if let Ok(cluster) = std::env::var("DATABASE_URL") {
            let _ = centinela_benches::load::db::drop_database(&cluster, &url).await;
        }
    }
    Ok(())
}
