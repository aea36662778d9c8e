//! Writes the demo data set ([`super::data`]) in one transaction, ending with the marker row:
//! a database is either fully seeded or not at all, and a second run finds the marker and
//! seeds nothing (idempotent). Every run then renews what is per run: the simulated routers'
//! ports and the simulated agents' tokens.

use super::data::{self, ACCOUNTS, RouterScenario, TENANTS, TICKET_PATHS, TICKET_TEXTS};
use anyhow::{Context, Result};
use centinela_api::CredentialSealer;
use centinela_model::Scope;
use centinela_model::maintenance::RecurrenceSpec;
use centinela_storage::alerts::{self, AlertFacts};
use centinela_storage::demo;
use centinela_storage::routers::{self, RouterTarget, TargetChange};
use centinela_storage::sites::{self, NewSite};
use centinela_storage::thresholds::{self, ThresholdInput};
use centinela_storage::tickets::{self, NewTicket};
use centinela_storage::{PgConnection, Store, devices, maintenance, tenants, users};
use chrono::{Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use uuid::Uuid;

/// Login of the simulated routers (the credentials are stored sealed, like a real router's).
pub const ROUTER_USER: &str = "centinela";
pub const ROUTER_PASSWORD: &str = "DemoRouter123!";

/// A seeded router: its device and what its simulator plays.
#[derive(Debug, Clone)]
pub struct SeededRouter {
    pub device_id: Uuid,
    pub name: String,
    pub scenario: RouterScenario,
}

/// Seeds the data set unless the marker says it is there; returns whether it seeded now.
pub async fn seed(store: &Store, sealer: &dyn CredentialSealer) -> Result<bool> {
    let mut tx = store.begin(Scope::All).await?;
    if demo::is_seeded(&mut tx).await? {
        return Ok(false);
    }
    let mut rng = StdRng::seed_from_u64(2026);
    let hashes = password_hashes()?;
    let mut world = World::default();
    for (t, spec) in TENANTS.iter().enumerate() {
        seed_tenant(&mut tx, t, spec, sealer, &mut world).await?;
    }
    for account in ACCOUNTS {
        let tenant = account.tenant.map(|t| world.tenants[t]);
        let user = users::create(
            &mut tx,
            account.email,
            account.name,
            account.role,
            tenant,
            &hashes[account.password],
        )
        .await
        .with_context(|| format!("demo account {}", account.email))?;
        if account.role == "technician" {
            world.technicians.push(user.id);
        }
        if let (Some(tenant_index), Some(tenant)) = (account.tenant, tenant)
            && account.role == "requester"
        {
            let sites: Vec<Uuid> = account
                .sites
                .iter()
                .filter_map(|i| world.sites_of(tenant_index).get(*i).copied())
                .collect();
            users::set_sites(&mut tx, user.id, tenant, &sites).await?;
            world
                .requesters
                .push((user.id, user.name.clone(), tenant_index));
        }
    }
    seed_alert_history(&mut tx, &world, &mut rng).await?;
    seed_tickets(&mut tx, &world, &mut rng).await?;
    demo::mark_seeded(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// What the seed created, for the steps that refer back to it.
#[derive(Default)]
struct World {
    tenants: Vec<Uuid>,
    /// (tenant index, site id)
    sites: Vec<(usize, Uuid)>,
    /// (tenant index, site id, device id, name)
    agents: Vec<(usize, Uuid, Uuid, String)>,
    technicians: Vec<Uuid>,
    /// (user id, name, tenant index)
    requesters: Vec<(Uuid, String, usize)>,
}

impl World {
    /// The sites of a tenant, in the order of its spec.
    fn sites_of(&self, tenant_index: usize) -> Vec<Uuid> {
        self.sites
            .iter()
            .filter(|s| s.0 == tenant_index)
            .map(|s| s.1)
            .collect()
    }
}

/// One argon2 hash per distinct demo password (hashing is deliberately slow).
fn password_hashes() -> Result<HashMap<&'static str, String>> {
    let mut hashes = HashMap::new();
    for account in ACCOUNTS {
        if !hashes.contains_key(account.password) {
            let hash = centinela_api::hash_password(account.password)
                .map_err(|e| anyhow::anyhow!("hashing a demo password: {e}"))?;
            hashes.insert(account.password, hash);
        }
    }
    Ok(hashes)
}

async fn seed_tenant(
    tx: &mut PgConnection,
    index: usize,
    spec: &data::TenantSpec,
    sealer: &dyn CredentialSealer,
    world: &mut World,
) -> Result<()> {
    let tenant = tenants::create(tx, spec.name, spec.plan).await?;
    if spec.suspended {
        tenants::update(tx, tenant.id, None, Some("suspended")).await?;
    }
    // The legal profile of seed 000, in the tenant's own profile columns (as the API shows it).
    let head_office = spec.sites.first();
    let profile = tenants::TenantChange {
        legal_name: Some(spec.legal_name.into()),
        rfc: Some(spec.rfc.into()),
        address: Some(spec.address.into()),
        city: Some(spec.city.into()),
        state: Some(spec.state.into()),
        zip: head_office.map(|s| s.zip.to_owned()),
        lat: head_office.map(|s| s.lat),
        lon: head_office.map(|s| s.lon),
        ..tenants::TenantChange::default()
    };
    tenants::change(tx, tenant.id, &profile).await?;
    world.tenants.push(tenant.id);
    seed_thresholds(tx, tenant.id).await?;
    let since = Utc::now() - Duration::days(45);
    for site_spec in spec.sites {
        let site = sites::create(
            tx,
            &NewSite {
                tenant_id: tenant.id,
                name: site_spec.name.into(),
                address: Some(site_spec.address.into()),
                city: Some(site_spec.city.into()),
                state: Some(site_spec.state.into()),
                zip: Some(site_spec.zip.into()),
                lat: Some(site_spec.lat),
                lon: Some(site_spec.lon),
            },
        )
        .await?;
        world.sites.push((index, site.id));
        for name in site_spec.agents {
            let (device, _) = devices::create(tx, tenant.id, site.id, name, "agent").await?;
            demo::set_device_times(tx, device.id, since, Some(Utc::now())).await?;
            world
                .agents
                .push((index, site.id, device.id, (*name).to_owned()));
        }
        if let Some((name, _)) = site_spec.router {
            let (device, _) = devices::create(tx, tenant.id, site.id, name, "routeros").await?;
            demo::set_device_times(tx, device.id, since, Some(Utc::now())).await?;
            let target = RouterTarget {
                device_id: device.id,
                tenant_id: tenant.id,
                host: "127.0.0.1".into(),
                // Replaced by the simulator's port at every start (see `point_routers`).
                port: 8728,
                tls: false,
                verify_tls: false,
                sealed_credentials: sealer.seal_router_credentials(ROUTER_USER, ROUTER_PASSWORD),
                last_log_id: None,
            };
            routers::insert(tx, &target).await?;
        }
        if index == 1 && world.sites.iter().filter(|s| s.0 == index).count() == 1 {
            // A weekly maintenance window at the tenant's first site (alerts raised during it
            // are suppressed, ticket clocks pause).
            let window = maintenance::NewWindow {
                tenant_id: tenant.id,
                scope: "site".into(),
                scope_id: site.id,
                description: "Respaldo y reinicio programado del servidor".into(),
                starts_at: None,
                ends_at: None,
                recurrence: Some(RecurrenceSpec::Weekly {
                    days: vec![7],
                    start: "02:00".into(),
                    end: "04:00".into(),
                }),
                timezone: "America/Mexico_City".into(),
                created_by: None,
            };
            maintenance::insert(tx, &window).await?;
        }
    }
    Ok(())
}

/// CPU (critical at 95 %, no ticket: the simulated fleet breaches it often) and memory
/// (critical at 97 %, with a ticket) for the whole tenant.
async fn seed_thresholds(tx: &mut PgConnection, tenant: Uuid) -> Result<()> {
    let rules = [
        ("cpu.usage_pct", 85.0, 95.0, false),
        ("mem.used_pct", 90.0, 97.0, true),
    ];
    for (metric, warning, critical, auto_ticket) in rules {
        thresholds::create(
            tx,
            &ThresholdInput {
                tenant_id: tenant,
                scope: "tenant".into(),
                scope_id: tenant,
                metric: metric.into(),
                op: ">".into(),
                warning: Some(warning),
                critical: Some(critical),
                for_seconds: 0,
                clear_margin: 2.0,
                auto_ticket,
                ticket_priority: auto_ticket.then(|| "high".to_owned()),
            },
        )
        .await?;
    }
    Ok(())
}

fn cpu_alert(
    tenant: Uuid,
    device: Uuid,
    name: &str,
    value: f64,
    at: chrono::DateTime<Utc>,
) -> AlertFacts {
    let critical = value >= 95.0;
    AlertFacts {
        id: Uuid::new_v4(),
        tenant_id: tenant,
        device_id: device,
        key: "cpu.usage_pct".into(),
        threshold_id: None,
        severity: if critical { "critical" } else { "warning" }.into(),
        title: format!("CPU al {value:.0} % en {name}"),
        description: format!("El uso de CPU de {name} superó el umbral ({value:.1} %)."),
        recommended_action:
            "Revisar los procesos con más consumo y reiniciar el servicio afectado si no responde."
                .into(),
        value,
        threshold: Some(if critical { 95.0 } else { 85.0 }),
        at,
    }
}

/// Forty alerts over the last 30 days, all cleared, and four firing now (which clear as soon
/// as their devices report normal values: the first clearing on the wall).
async fn seed_alert_history(tx: &mut PgConnection, world: &World, rng: &mut StdRng) -> Result<()> {
    let now = Utc::now();
    let running: Vec<_> = world
        .agents
        .iter()
        .filter(|a| !data::SILENT_AGENTS.contains(&a.3.as_str()))
        .collect();
    for _ in 0..40 {
        let (tenant, _, device, name) = running[rng.random_range(0..running.len())];
        let opened = now - Duration::minutes(rng.random_range(60..30 * 24 * 60));
        let value = rng.random_range(86.0..100.0);
        let facts = cpu_alert(world.tenants[*tenant], *device, name, value, opened);
        alerts::open(tx, &facts).await?;
        let cleared = opened + Duration::minutes(rng.random_range(1..45));
        alerts::clear(tx, *device, "cpu.usage_pct", 30.0, cleared).await?;
    }
    for (i, (tenant, _, device, name)) in running.iter().step_by(17).take(4).enumerate() {
        let value = if i % 2 == 0 { 97.5 } else { 88.0 };
        let opened = now - Duration::minutes(10 + 7 * i as i64);
        let facts = cpu_alert(world.tenants[*tenant], *device, name, value, opened);
        alerts::open(tx, &facts).await?;
    }
    Ok(())
}

/// Sixty tickets in every state of the helpdesk's state machine, over the last 30 days.
async fn seed_tickets(tx: &mut PgConnection, world: &World, rng: &mut StdRng) -> Result<()> {
    let sources = ["portal", "email", "api", "portal", "agent"];
    let priorities = ["low", "medium", "high", "critical", "medium"];
    let categories = demo::default_categories(tx).await?;
    for i in 0..data::TICKETS {
        let (requester_id, requester, tenant_index) = &world.requesters[i % world.requesters.len()];
        // The requester's own site, so that their portal shows the tickets they opened.
        let mut own_sites = users::site_ids(tx, *requester_id).await?;
        if own_sites.is_empty() {
            own_sites = world.sites_of(*tenant_index);
        }
        let site = own_sites[i % own_sites.len()];
        let device = world
            .agents
            .iter()
            .filter(|a| a.1 == site)
            .nth(i % 3)
            .map(|a| a.2);
        let (subject, description, category) = TICKET_TEXTS[i % TICKET_TEXTS.len()];
        let new = NewTicket {
            tenant_id: world.tenants[*tenant_index],
            site_id: Some(site),
            device_id: device,
            source: sources[i % sources.len()].into(),
            subject: subject.into(),
            description: description.into(),
            affected_person: requester.clone(),
            affected_person_contact: format!("ext. {}", 200 + i),
            priority: priorities[i % priorities.len()].into(),
            category: Some(category_name(category).into()),
            category_id: categories
                .iter()
                .find(|(_, name)| name == category_name(category))
                .map(|(id, _)| *id),
            ..NewTicket::default()
        };
        let (ticket, _) = tickets::create(tx, &new).await?;
        let path = TICKET_PATHS[i % TICKET_PATHS.len()];
        // Recent tickets are still open; a few open ones are past their due dates (overdue).
        let age = Duration::minutes(rng.random_range(20..30 * 24 * 60) / (1 + (i as i64 % 4)));
        let technician =
            (!path.is_empty() && path[0] != "pending_approval" && path[0] != "cancelled")
                .then(|| world.technicians[i % world.technicians.len()]);
        let opened_by = (new.source == "portal").then_some(*requester_id);
        demo::place_ticket(tx, &ticket, Utc::now() - age, path, technician, opened_by).await?;
    }
    Ok(())
}

/// The MSP-wide category a demo ticket's topic is filed under (the migration's default set).
fn category_name(topic: &str) -> &'static str {
    match topic {
        "hardware" => "Hardware",
        "correo" => "Correo electrónico",
        "cuentas" => "Cuentas y accesos",
        "red" => "Red",
        _ => "Software",
    }
}

/// Points every router at its simulator's port (they change at every start).
pub async fn point_routers(store: &Store, ports: &HashMap<Uuid, u16>) -> Result<()> {
    let mut tx = store.begin(Scope::All).await?;
    for (device, port) in ports {
        let change = TargetChange {
            host: Some("127.0.0.1".into()),
            port: Some(i32::from(*port)),
            ..TargetChange::default()
        };
        routers::update(&mut tx, *device, &change).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The seeded routers with the scenario each plays (matched by name).
pub async fn routers(store: &Store) -> Result<Vec<SeededRouter>> {
    let mut tx = store.begin(Scope::All).await?;
    let devices = demo::devices_of_kind(&mut tx, "routeros").await?;
    tx.commit().await?;
    let scenario_of = |name: &str| {
        TENANTS
            .iter()
            .flat_map(|t| t.sites)
            .filter_map(|s| s.router)
            .find(|(n, _)| *n == name)
            .map_or(RouterScenario::Quiet, |(_, s)| s)
    };
    Ok(devices
        .into_iter()
        .map(|d| SeededRouter {
            scenario: scenario_of(&d.name),
            device_id: d.id,
            name: d.name,
        })
        .collect())
}

/// The agents the fleet runs, with fresh tokens (the previous run's stop working).
pub async fn agents_with_tokens(store: &Store) -> Result<Vec<(devices::Device, String)>> {
    let mut tx = store.begin(Scope::All).await?;
    let agents: Vec<devices::Device> = demo::devices_of_kind(&mut tx, "agent")
        .await?
        .into_iter()
        .filter(|d| !data::SILENT_AGENTS.contains(&d.name.as_str()))
        .collect();
    let ids: Vec<Uuid> = agents.iter().map(|d| d.id).collect();
    let tokens: HashMap<Uuid, String> = demo::renew_agent_tokens(&mut tx, &ids)
        .await?
        .into_iter()
        .collect();
    tx.commit().await?;
    Ok(agents
        .into_iter()
        .filter_map(|d| tokens.get(&d.id).cloned().map(|t| (d, t)))
        .collect())
}
