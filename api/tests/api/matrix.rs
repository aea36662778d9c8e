//! The role × endpoint matrix: every endpoint of the route table, called over the real HTTP
//! server by each of the five roles on an object of the caller's own site, of another site of
//! its tenant, and of another tenant, against the status the contract expects.
//!
//! Lists answer 200 whatever the caller may see; their cell says whether the target's object is
//! in the page ([`SEEN`]) or not ([`HIDDEN`]).

use crate::helpers::{alert, http_client, serve, state, tenant_with_site, user};
use centinela_api::routes::{self, Method};
use centinela_model::Scope;
use centinela_storage::tickets::{self, NewTicket};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use uuid::Uuid;

const ROLES: [&str; 5] = [
    "superadmin",
    "admin",
    "technician",
    "client_admin",
    "requester",
];
const PASSWORD: &str = "Contraseña-Segura-9";

/// Which object a cell targets, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The caller's own tenant and (for a requester) one of its sites.
    OwnSite,
    /// The caller's tenant, another site.
    OtherSite,
    /// Another tenant.
    OtherTenant,
}
const TARGETS: [Target; 3] = [Target::OwnSite, Target::OtherSite, Target::OtherTenant];

/// A list answered 200 with the target's object in it.
const SEEN: u16 = 200;
/// A list answered 200 without the target's object.
const HIDDEN: u16 = 1;

/// The objects of one target.
#[derive(Debug, Clone)]
struct Place {
    tenant: Uuid,
    site: Uuid,
    device: Uuid,
    alert: Uuid,
    ticket: Uuid,
    threshold: Uuid,
    script: Uuid,
    run: Uuid,
    /// A requester of the place's site (not the caller).
    user: Uuid,
    /// A category of the place's tenant (no approval needed).
    category: Uuid,
    /// An entry of the tenant's technician list.
    assignment: Uuid,
    /// The tenant's own SLA policy.
    policy: Uuid,
    /// A maintenance window on the place's device.
    window: Uuid,
}

/// An object made anew for each cell (the call changes or deletes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fresh {
    None,
    Device,
    Alert,
    Script,
    /// A `new` ticket on the place's site, created by nobody in particular.
    Ticket,
    /// A requester of the place's site.
    Requester,
    /// A category of the place's tenant.
    Category,
    /// A technician (not yet on any tenant's list).
    Technician,
    /// A technician-list entry of the place's tenant.
    Assignment,
    /// A tenant without an SLA policy of its own.
    Tenant,
    /// A maintenance window on the place's device.
    Window,
}

struct Row {
    method: Method,
    path: &'static str,
    fresh: Fresh,
    /// What replaces `{id}`.
    id: fn(&Place, &Value) -> String,
    query: fn(&Place) -> String,
    body: fn(&Place, &Value, &World) -> Option<Value>,
    /// For lists: the id of the target's object to look for in the page.
    lists: Option<fn(&Place) -> Uuid>,
    /// Per role (in [`ROLES`] order), per target (in [`TARGETS`] order).
    expect: [[u16; 3]; 5],
}

fn row(method: Method, path: &'static str, expect: [[u16; 3]; 5]) -> Row {
    Row {
        method,
        path,
        fresh: Fresh::None,
        id: |_, _| String::new(),
        query: |_| String::new(),
        body: |_, _, _| None,
        lists: None,
        expect,
    }
}

impl Row {
    fn id(mut self, id: fn(&Place, &Value) -> String) -> Row {
        self.id = id;
        self
    }
    fn query(mut self, query: fn(&Place) -> String) -> Row {
        self.query = query;
        self
    }
    fn body(mut self, body: fn(&Place, &Value, &World) -> Option<Value>) -> Row {
        self.body = body;
        self
    }
    fn fresh(mut self, fresh: Fresh) -> Row {
        self.fresh = fresh;
        self
    }
    fn lists(mut self, lists: fn(&Place) -> Uuid) -> Row {
        self.lists = Some(lists);
        self
    }
    fn name(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }
}

// Expectation shapes that recur (superadmin, admin, technician, client_admin, requester).
/// Everyone reads it; requesters only on their sites, tenant roles only in their tenant.
const READ_SITE: [[u16; 3]; 5] = [
    [200, 200, 200],
    [200, 200, 200],
    [200, 200, 200],
    [200, 200, 404],
    [200, 404, 404],
];
/// The same for a list.
const LIST_SITE: [[u16; 3]; 5] = [
    [SEEN, SEEN, SEEN],
    [SEEN, SEEN, SEEN],
    [SEEN, SEEN, SEEN],
    [SEEN, SEEN, HIDDEN],
    [SEEN, HIDDEN, HIDDEN],
];
/// Tenant-wide objects (no site): readable in the caller's tenant.
const READ_TENANT: [[u16; 3]; 5] = [
    [200, 200, 200],
    [200, 200, 200],
    [200, 200, 200],
    [200, 200, 404],
    [200, 200, 404],
];
const LIST_TENANT: [[u16; 3]; 5] = [
    [SEEN, SEEN, SEEN],
    [SEEN, SEEN, SEEN],
    [SEEN, SEEN, SEEN],
    [SEEN, SEEN, HIDDEN],
    [SEEN, SEEN, HIDDEN],
];
/// Written by staff and client admins in their tenant; requesters read only (404 where they
/// cannot even see the object).
const fn write_site(ok: u16) -> [[u16; 3]; 5] {
    [
        [ok, ok, ok],
        [ok, ok, ok],
        [ok, ok, ok],
        [ok, ok, 404],
        [403, 404, 404],
    ]
}
const fn write_tenant(ok: u16) -> [[u16; 3]; 5] {
    [
        [ok, ok, ok],
        [ok, ok, ok],
        [ok, ok, ok],
        [ok, ok, 404],
        [403, 403, 404],
    ]
}
/// Superadmins and admins only.
const fn msp_admin(ok: u16) -> [[u16; 3]; 5] {
    [
        [ok, ok, ok],
        [ok, ok, ok],
        [403, 403, 403],
        [403, 403, 403],
        [403, 403, 403],
    ]
}
/// MSP staff only.
const fn staff(ok: u16) -> [[u16; 3]; 5] {
    [
        [ok, ok, ok],
        [ok, ok, ok],
        [ok, ok, ok],
        [403, 403, 403],
        [403, 403, 403],
    ]
}
const ALL_200: [[u16; 3]; 5] = [[200; 3]; 5];

/// `base` with the requester's row replaced: rule configuration (thresholds, log rules) is not
/// a requester's business, and what it cannot see at all answers 404.
const fn requester(base: [[u16; 3]; 5], row: [u16; 3]) -> [[u16; 3]; 5] {
    [base[0], base[1], base[2], base[3], row]
}

fn uid(id: Uuid) -> String {
    id.to_string()
}

/// Every row. Routes left out are in [`NOT_ROLE_BASED`].
fn rows() -> Vec<Row> {
    use Method::{Delete, Get, Patch, Post, Put};
    vec![
        row(Get, "/healthz", ALL_200),
        row(Get, "/readyz", ALL_200),
        row(Get, "/metrics", ALL_200),
        row(Get, "/api/openapi.json", ALL_200),
        row(Get, "/api/auth/me", ALL_200),
        // Tenants.
        row(Get, "/api/tenants", LIST_TENANT)
            .query(|_| "limit=1000".into())
            .lists(|p| p.tenant),
        row(Post, "/api/tenants", msp_admin(201))
            .body(|_, _, _| Some(json!({"name": format!("Cliente Ñuñoa {}", Uuid::new_v4())}))),
        row(Get, "/api/tenants/{id}", READ_TENANT).id(|p, _| uid(p.tenant)),
        // Tenant roles do not learn whether another tenant exists: 404 there.
        row(
            Patch,
            "/api/tenants/{id}",
            [
                [200, 200, 200],
                [200, 200, 200],
                [403, 403, 403],
                [403, 403, 404],
                [403, 403, 404],
            ],
        )
            .id(|p, _| uid(p.tenant))
            .body(|_, _, _| Some(json!({"plan": "pro"}))),
        // Sites.
        row(Get, "/api/sites", LIST_SITE)
            .query(|p| format!("tenant_id={}&limit=1000", p.tenant))
            .lists(|p| p.site),
        row(Post, "/api/sites", write_tenant(201)).body(|p, _, _| {
            Some(json!({"tenant_id": p.tenant, "name": format!("Sucursal Mérida {}", Uuid::new_v4())}))
        }),
        row(Get, "/api/sites/{id}", READ_SITE).id(|p, _| uid(p.site)),
        // Devices.
        row(Get, "/api/devices", LIST_SITE)
            .query(|p| format!("tenant_id={}&limit=1000", p.tenant))
            .lists(|p| p.device),
        row(Post, "/api/devices", write_tenant(201)).body(|p, _, _| {
            Some(json!({"tenant_id": p.tenant, "site_id": p.site, "name": format!("PC-Güemes-{}", Uuid::new_v4()), "kind": "agent"}))
        }),
        row(Get, "/api/devices/{id}", READ_SITE).id(|p, _| uid(p.device)),
        row(Patch, "/api/devices/{id}", write_site(200))
            .fresh(Fresh::Device)
            .id(|_, f| f["id"].as_str().unwrap().to_owned())
            .body(|_, _, _| Some(json!({"name": "Equipo Óscar"}))),
        row(Delete, "/api/devices/{id}", write_site(204))
            .fresh(Fresh::Device)
            .id(|_, f| f["id"].as_str().unwrap().to_owned()),
        row(Get, "/api/devices/{id}/metrics", READ_SITE)
            .id(|p, _| uid(p.device))
            .query(|_| "name=cpu.usage_pct".into()),
        row(Get, "/api/devices/{id}/logs", READ_SITE).id(|p, _| uid(p.device)),
        row(Get, "/api/devices/{id}/series", READ_SITE).id(|p, _| uid(p.device)),
        row(Get, "/api/meta", ALL_200),
        // Fleet health, subscription, audit.
        row(Get, "/api/health/devices", ALL_200),
        row(Get, "/api/subscription/status", READ_TENANT).query(|p| format!("tenant_id={}", p.tenant)),
        row(
            Get,
            "/api/audit",
            [[200; 3], [200; 3], [403; 3], [200; 3], [403; 3]],
        ),
        // Log rules (per tenant).
        row(Get, "/api/log-rules", requester(READ_TENANT, [403; 3])).query(|p| format!("tenant_id={}", p.tenant)),
        row(Put, "/api/log-rules/{kind}", write_tenant(200))
            .id(|_, _| "brute_force".into())
            .body(|p, _, _| {
                Some(json!({"tenant_id": p.tenant, "enabled": true, "threshold": 7, "window_seconds": 300, "severity": "critical"}))
            }),
        row(Delete, "/api/log-rules/{kind}", write_tenant(204))
            .id(|_, _| "brute_force".into())
            .query(|p| format!("tenant_id={}", p.tenant)),
        // Thresholds (per tenant).
        row(Get, "/api/thresholds", requester(LIST_TENANT, [403; 3]))
            .query(|_| "limit=1000".into())
            .lists(|p| p.threshold),
        row(Post, "/api/thresholds", write_site(201))
            .fresh(Fresh::Device)
            .body(|_, f, _| {
                Some(json!({"scope": "device", "scope_id": f["id"], "metric": "cpu.usage_pct", "op": ">", "warning": 80.0}))
            }),
        // The row's threshold is tenant-wide: a requester does not see it (404).
        row(Patch, "/api/thresholds/{id}", requester(write_tenant(200), [404; 3]))
            .id(|p, _| uid(p.threshold))
            .body(|_, _, _| Some(json!({"warning": 85.0}))),
        row(Delete, "/api/thresholds/{id}", write_site(204))
            .fresh(Fresh::Device)
            .id(|_, f| f["threshold_id"].as_str().unwrap().to_owned()),
        // Alerts.
        row(Get, "/api/alerts", LIST_SITE)
            .query(|_| "limit=1000".into())
            .lists(|p| p.alert),
        row(Get, "/api/alerts/{id}", READ_SITE).id(|p, _| uid(p.alert)),
        row(Post, "/api/alerts/{id}/ack", write_site(200))
            .fresh(Fresh::Alert)
            .id(|_, f| f["id"].as_str().unwrap().to_owned())
            .body(|_, _, _| Some(json!({"comment": "Revisión en curso, ñandú"}))),
        row(Patch, "/api/alerts/{id}/status", write_site(200))
            .fresh(Fresh::Alert)
            .id(|_, f| f["id"].as_str().unwrap().to_owned())
            .body(|_, _, _| Some(json!({"status": "in_progress"}))),
        // Tickets.
        row(Get, "/api/tickets", LIST_SITE)
            .query(|_| "limit=1000".into())
            .lists(|p| p.ticket),
        row(Get, "/api/tickets/{id}", READ_SITE).id(|p, _| uid(p.ticket)),
        // Portal flow: a requester files on its own site only.
        row(
            Post,
            "/api/tickets",
            [
                [201, 201, 201],
                [201, 201, 201],
                [201, 201, 201],
                [201, 201, 404],
                [201, 404, 404],
            ],
        )
        .body(|p, _, _| {
            Some(json!({"tenant_id": p.tenant, "site_id": p.site, "subject": "Sin señal en la cámara de recepción",
                "description": "La cámara del acceso norte no transmite desde las 9:00.",
                "affected_person": "Begoña Núñez", "priority": "high", "category_id": p.category}))
        }),
        // Priority is a staff field: tenant roles are refused before the ticket is even read.
        row(Patch, "/api/tickets/{id}", staff(200))
            .fresh(Fresh::Ticket)
            .id(|_, f| f["id"].as_str().unwrap().to_owned())
            .body(|_, _, _| Some(json!({"priority": "critical"}))),
        // Cancelling a `new` ticket: staff, its tenant's client_admin, and only the requester
        // who filed it (this one was filed by someone else: 403 on the requester's own site).
        row(
            Patch,
            "/api/tickets/{id}",
            [
                [200, 200, 200],
                [200, 200, 200],
                [200, 200, 200],
                [200, 200, 404],
                [403, 404, 404],
            ],
        )
        .fresh(Fresh::Ticket)
        .id(|_, f| f["id"].as_str().unwrap().to_owned())
        .body(|_, _, _| Some(json!({"status": "cancelled", "comment": "Duplicado del reporte de ayer"}))),
        row(Post, "/api/tickets/{id}/comments", READ_SITE.map(|r| r.map(|c| if c == 200 { 201 } else { c })))
            .id(|p, _| uid(p.ticket))
            .body(|_, _, _| Some(json!({"body": "¿Ya probaron reiniciar el equipo? Saludos, Íñigo"}))),
        // Internal comments are staff-only, refused before the ticket is read.
        row(Post, "/api/tickets/{id}/comments", staff(201))
            .id(|p, _| uid(p.ticket))
            .body(|_, _, _| Some(json!({"body": "Nota interna: el cliente debe dos facturas.", "internal": true}))),
        // Ticket categories: everyone reads the MSP-wide set and its tenant's; admins write.
        row(Get, "/api/ticket-categories", LIST_TENANT)
            .query(|p| format!("tenant_id={}&limit=1000", p.tenant))
            .lists(|p| p.category),
        row(Post, "/api/ticket-categories", msp_admin(201)).body(|p, _, _| {
            Some(json!({"tenant_id": p.tenant, "name": format!("Telefonía Ñ {}", Uuid::new_v4())}))
        }),
        row(Get, "/api/ticket-categories/{id}", READ_TENANT).id(|p, _| uid(p.category)),
        row(Patch, "/api/ticket-categories/{id}", msp_admin(200))
            .fresh(Fresh::Category)
            .id(|_, f| f["id"].as_str().unwrap().to_owned())
            .body(|_, _, _| Some(json!({"name": format!("Redes y módems {}", Uuid::new_v4()), "requires_approval": true}))),
        row(Delete, "/api/ticket-categories/{id}", msp_admin(204))
            .fresh(Fresh::Category)
            .id(|_, f| f["id"].as_str().unwrap().to_owned()),
        // A tenant's technician list: staff and its client_admin read, admins write.
        row(Get, "/api/technician-assignments", requester(LIST_TENANT, [403; 3]))
            .query(|p| format!("tenant_id={}&limit=1000", p.tenant))
            .lists(|p| p.assignment),
        row(Post, "/api/technician-assignments", msp_admin(201))
            .fresh(Fresh::Technician)
            .body(|p, f, _| Some(json!({"tenant_id": p.tenant, "technician_id": f["id"], "position": 3}))),
        row(Delete, "/api/technician-assignments/{id}", msp_admin(204))
            .fresh(Fresh::Assignment)
            .id(|_, f| f["id"].as_str().unwrap().to_owned()),
        // SLA policies: staff and the tenant's client_admin read, admins write; requesters
        // never see them.
        row(Get, "/api/sla-policies", requester(ALL_200, [403; 3])).query(|p| format!("tenant_id={}", p.tenant)),
        row(Post, "/api/sla-policies", msp_admin(201))
            .fresh(Fresh::Tenant)
            .body(|_, f, _| Some(json!({"tenant_id": f["id"], "hours": {"1": [["08:00", "14:00"]], "6": [["09:00", "13:00"]]}}))),
        row(Get, "/api/sla-policies/{id}", requester(READ_TENANT, [403; 3])).id(|p, _| uid(p.policy)),
        row(Patch, "/api/sla-policies/{id}", msp_admin(200))
            .id(|p, _| uid(p.policy))
            .body(|_, _, _| Some(json!({"reminder_min": 30}))),
        row(Post, "/api/sla-policies/{id}/apply", msp_admin(200)).id(|p, _| uid(p.policy)),
        // Maintenance windows: staff and the tenant's client_admin; requesters have none.
        row(Get, "/api/maintenance-windows", requester(LIST_TENANT, [403; 3]))
            .query(|p| format!("tenant_id={}", p.tenant))
            .lists(|p| p.window),
        row(Post, "/api/maintenance-windows", requester(write_tenant(201), [403; 3])).body(|p, _, _| {
            Some(json!({"scope": "device", "scope_id": p.device, "description": "Mantenimiento semanal",
                "recurrence": {"weekly": {"days": [7], "start": "02:00", "end": "04:00"}},
                "timezone": "America/Tijuana"}))
        }),
        row(Get, "/api/maintenance-windows/{id}", requester(READ_TENANT, [403; 3])).id(|p, _| uid(p.window)),
        row(Patch, "/api/maintenance-windows/{id}", requester(write_tenant(200), [403; 3]))
            .id(|p, _| uid(p.window))
            .body(|_, _, _| Some(json!({"description": "Cambio de UPS y baterías"}))),
        row(Delete, "/api/maintenance-windows/{id}", requester(write_tenant(204), [403; 3]))
            .fresh(Fresh::Window)
            .id(|_, f| f["id"].as_str().unwrap().to_owned()),
        // The SLA numbers: a tenant's roles only for their tenant; requesters never.
        row(Get, "/api/sla/metrics", requester(READ_TENANT, [403; 3])).query(|p| format!("tenant_id={}", p.tenant)),
        // Users, targeting a requester of the place's site. Staff read every user; a
        // client_admin its tenant's tenant users; a requester only itself.
        row(Get, "/api/users", requester(LIST_SITE, [HIDDEN; 3]))
            .query(|_| "limit=1000".into())
            .lists(|p| p.user),
        row(Get, "/api/users/{id}", requester(READ_SITE, [404; 3])).id(|p, _| uid(p.user)),
        // Requesters are managed by staff (technicians included) and their tenant's client_admin.
        row(Post, "/api/users", requester(write_tenant(201), [403; 3])).body(|p, _, _| {
            Some(json!({"email": format!("ñandu.{}@cliente.test", Uuid::new_v4()), "name": "Ñandú Güemes",
                "role": "requester", "tenant_id": p.tenant, "site_ids": [p.site], "password": PASSWORD}))
        }),
        row(Patch, "/api/users/{id}", requester(write_tenant(200), [404; 3]))
            .fresh(Fresh::Requester)
            .id(|_, f| f["id"].as_str().unwrap().to_owned())
            .body(|_, _, _| Some(json!({"name": "Íñigo Peña", "phone": "+52 (998) 765-4321"}))),
        row(Delete, "/api/users/{id}", requester(write_tenant(204), [404; 3]))
            .fresh(Fresh::Requester)
            .id(|_, f| f["id"].as_str().unwrap().to_owned()),
        // Scripts: MSP staff manage them; tenant-scoped scripts are visible in their tenant.
        row(Get, "/api/scripts", LIST_TENANT)
            .query(|p| format!("tenant_id={}&limit=1000", p.tenant))
            .lists(|p| p.script),
        row(Post, "/api/scripts", staff(201)).body(|p, _, _| {
            Some(json!({"tenant_id": p.tenant, "name": format!("Limpieza {}", Uuid::new_v4()), "interpreter": "sh", "body": "echo ñ"}))
        }),
        row(Get, "/api/scripts/{id}", READ_TENANT).id(|p, _| uid(p.script)),
        row(Patch, "/api/scripts/{id}", staff(200))
            .fresh(Fresh::Script)
            .id(|_, f| f["id"].as_str().unwrap().to_owned())
            .body(|_, _, _| Some(json!({"body": "echo áéíóú"}))),
        row(Delete, "/api/scripts/{id}", msp_admin(204))
            .fresh(Fresh::Script)
            .id(|_, f| f["id"].as_str().unwrap().to_owned()),
        row(Post, "/api/scripts/{id}/approve", msp_admin(200))
            .fresh(Fresh::Script)
            .id(|_, f| f["id"].as_str().unwrap().to_owned())
            .body(|_, f, _| Some(json!({"updated_at": f["updated_at"]}))),
        // A run: staff, or the device's client admin; requesters never.
        row(
            Post,
            "/api/scripts/{id}/run",
            [
                [202, 202, 202],
                [202, 202, 202],
                [202, 202, 202],
                [202, 202, 404],
                [403, 403, 403],
            ],
        )
        .id(|_, _| String::new())
        .body(|p, _, _| Some(json!({"device_id": p.device}))),
        row(Get, "/api/script-runs", LIST_SITE)
            .query(|_| "limit=1000".into())
            .lists(|p| p.run),
        row(Get, "/api/script-runs/{id}", READ_SITE).id(|p, _| uid(p.run)),
    ]
}

/// Routes whose access does not depend on a user's role, tested where they live: the login,
/// refresh and logout flows (`auth`, `sessions`), the agent's routes (device token or site key,
/// `agents_scripts`), and the NOC socket's scoping (`sessions`, noc tests).
const NOT_ROLE_BASED: &[&str] = &[
    "POST /api/auth/login",
    "POST /api/auth/refresh",
    "POST /api/auth/logout",
    "POST /api/agents/certificate",
    "POST /api/agents/enroll",
    "GET /ws/noc",
];

/// Cells known to answer wrongly today, each with the area that owns the fix. A known cell
/// that starts answering correctly fails the test so that it is taken off this list.
fn known_issue(_row: &Row, _role: &str, _target: Target) -> Option<&'static str> {
    // None today: the requester site scope (the last entry) landed with the users API.
    None
}

struct World {
    addr: SocketAddr,
    http: reqwest::Client,
    tokens: Vec<String>,
    places: [Place; 3],
    /// An approved global script, for runs.
    approved_script: Uuid,
}

impl World {
    async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("http://{}{path}", self.addr))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A call as the superadmin that must answer `expect`.
    async fn setup(&self, method: Method, path: &str, body: Value, expect: u16) -> Value {
        let (status, answer) = self.call(&self.tokens[0], method, path, Some(&body)).await;
        assert_eq!(status, expect, "{} {path}: {answer}", method.as_str());
        answer
    }

    async fn new_device(&self, place: &Place) -> Value {
        let body = json!({"tenant_id": place.tenant, "site_id": place.site, "name": format!("Nodo {}", Uuid::new_v4()), "kind": "agent"});
        let created = self.setup(Method::Post, "/api/devices", body, 201).await;
        created["device"].clone()
    }

    async fn new_requester(&self, place: &Place) -> Value {
        let body = json!({"email": format!("peer.{}@matriz.test", Uuid::new_v4()), "name": "Begoña Ibáñez",
            "role": "requester", "tenant_id": place.tenant, "site_ids": [place.site], "password": PASSWORD});
        self.setup(Method::Post, "/api/users", body, 201).await["user"].clone()
    }

    async fn new_technician(&self) -> Value {
        let body = json!({"email": format!("tecnico.{}@matriz.test", Uuid::new_v4()), "name": "Técnico Muñoz",
            "role": "technician", "password": PASSWORD});
        self.setup(Method::Post, "/api/users", body, 201).await["user"].clone()
    }

    async fn new_category(&self, tenant: Uuid) -> Value {
        let body = json!({"tenant_id": tenant, "name": format!("Impresión {}", Uuid::new_v4())});
        self.setup(Method::Post, "/api/ticket-categories", body, 201)
            .await["category"]
            .clone()
    }

    async fn new_assignment(&self, tenant: Uuid) -> Value {
        let technician = self.new_technician().await;
        let body = json!({"tenant_id": tenant, "technician_id": technician["id"]});
        self.setup(Method::Post, "/api/technician-assignments", body, 201)
            .await["assignment"]
            .clone()
    }

    async fn new_window(&self, place: &Place) -> Value {
        let starts = chrono::Utc::now() + chrono::Duration::days(1);
        let body = json!({"scope": "device", "scope_id": place.device,
            "description": "Cambio de UPS — sucursal Ñuñoa",
            "starts_at": starts.to_rfc3339(), "ends_at": (starts + chrono::Duration::hours(2)).to_rfc3339()});
        self.setup(Method::Post, "/api/maintenance-windows", body, 201)
            .await
    }

    async fn new_script(&self, tenant: Option<Uuid>) -> Value {
        let body = json!({"tenant_id": tenant, "name": format!("Diagnóstico {}", Uuid::new_v4()), "interpreter": "sh", "body": "uptime"});
        self.setup(Method::Post, "/api/scripts", body, 201).await
    }

    async fn fresh(&self, fresh: Fresh, place: &Place, store: &centinela_storage::Store) -> Value {
        match fresh {
            Fresh::None => Value::Null,
            Fresh::Device => {
                let mut device = self.new_device(place).await;
                let id = device["id"].clone();
                let threshold = json!({"scope": "device", "scope_id": id, "metric": "mem.used_pct", "op": ">", "warning": 90.0});
                let threshold = self
                    .setup(Method::Post, "/api/thresholds", threshold, 201)
                    .await;
                device["threshold_id"] = threshold["id"].clone();
                device
            }
            Fresh::Alert => {
                // One alert per key and device is open at a time: a new device, a new alert.
                let device: Uuid = self.new_device(place).await["id"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                json!({"id": alert(store, place.tenant, device).await})
            }
            Fresh::Script => self.new_script(Some(place.tenant)).await,
            Fresh::Ticket => {
                let device = place.device;
                json!({"id": ticket(store, place.tenant, place.site, device).await})
            }
            Fresh::Requester => self.new_requester(place).await,
            Fresh::Category => self.new_category(place.tenant).await,
            Fresh::Technician => self.new_technician().await,
            Fresh::Assignment => self.new_assignment(place.tenant).await,
            Fresh::Window => self.new_window(place).await,
            Fresh::Tenant => {
                let body =
                    json!({"name": format!("Cliente Ñandú {}", Uuid::new_v4()), "plan": "pro"});
                self.setup(Method::Post, "/api/tenants", body, 201).await
            }
        }
    }
}

async fn login(http: &reqwest::Client, addr: SocketAddr, email: &str) -> String {
    let body: Value = http
        .post(format!("http://{addr}/api/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login {email}: {body}"))
        .to_owned()
}

async fn ticket(store: &centinela_storage::Store, tenant: Uuid, site: Uuid, device: Uuid) -> Uuid {
    let new = NewTicket {
        tenant_id: tenant,
        site_id: Some(site),
        device_id: Some(device),
        source: "api".into(),
        subject: "Impresora sin conexión en recepción".into(),
        description: "La impresora de Ñuñoa no responde".into(),
        affected_person: "Begoña Núñez".into(),
        affected_person_contact: "begona@cliente.test".into(),
        priority: "medium".into(),
        ..Default::default()
    };
    let mut tx = store.begin(Scope::All).await.unwrap();
    let (ticket, _) = tickets::create(&mut tx, &new).await.unwrap();
    tx.commit().await.unwrap();
    ticket.id
}

/// Tenant A (sites A1 and A2) holds the tenant roles, requester on A1; tenant B is another
/// tenant. Each place gets a device, an alert, a ticket, a run; each tenant a threshold and a
/// script.
async fn world() -> (World, centinela_storage::Store) {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant_a, site_a1) = tenant_with_site(&store, "Cliente Peñasco", "pro").await;
    let (tenant_b, site_b) = tenant_with_site(&store, "Cliente Ibáñez", "pro").await;
    for role in ROLES {
        let tenant = matches!(role, "client_admin" | "requester").then_some(tenant_a);
        user(
            &store,
            &format!("{role}@matriz.test"),
            PASSWORD,
            role,
            tenant,
        )
        .await;
    }
    let addr = serve(&state);
    let http = http_client();
    let mut tokens = Vec::new();
    for role in ROLES {
        tokens.push(login(&http, addr, &format!("{role}@matriz.test")).await);
    }
    let empty = Place {
        tenant: tenant_a,
        site: site_a1,
        device: Uuid::nil(),
        alert: Uuid::nil(),
        ticket: Uuid::nil(),
        threshold: Uuid::nil(),
        script: Uuid::nil(),
        run: Uuid::nil(),
        user: Uuid::nil(),
        category: Uuid::nil(),
        assignment: Uuid::nil(),
        policy: Uuid::nil(),
        window: Uuid::nil(),
    };
    let mut world = World {
        addr,
        http,
        tokens,
        places: [empty.clone(), empty.clone(), empty],
        approved_script: Uuid::nil(),
    };
    let site_a2 = world
        .setup(
            Method::Post,
            "/api/sites",
            json!({"tenant_id": tenant_a, "name": "Sede Cancún"}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    world.places[1].site = site_a2;
    // The requester belongs to site A1 only.
    let requester = {
        let mut tx = store.begin(Scope::All).await.unwrap();
        let requester = centinela_storage::users::by_email(&mut tx, "requester@matriz.test")
            .await
            .unwrap()
            .unwrap()
            .id;
        centinela_storage::users::set_sites(&mut tx, requester, tenant_a, &[site_a1])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        requester
    };
    world.tokens[4] = login(&world.http, addr, "requester@matriz.test").await;
    assert_ne!(requester, Uuid::nil());
    world.places[2].tenant = tenant_b;
    world.places[2].site = site_b;
    let script = world.new_script(None).await;
    let approve = format!("/api/scripts/{}/approve", script["id"].as_str().unwrap());
    world
        .setup(
            Method::Post,
            &approve,
            json!({"updated_at": script["updated_at"]}),
            200,
        )
        .await;
    world.approved_script = script["id"].as_str().unwrap().parse().unwrap();
    for i in 0..3 {
        let place = world.places[i].clone();
        let device: Uuid = world.new_device(&place).await["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let run_path = format!("/api/scripts/{}/run", world.approved_script);
        let run = world
            .setup(Method::Post, &run_path, json!({"device_id": device}), 202)
            .await;
        let ticket = ticket(&store, place.tenant, place.site, device).await;
        let p = &mut world.places[i];
        p.device = device;
        p.alert = alert(&store, place.tenant, device).await;
        p.ticket = ticket;
        p.run = run["run"]["id"].as_str().unwrap().parse().unwrap();
        let user = world.new_requester(&place).await;
        world.places[i].user = user["id"].as_str().unwrap().parse().unwrap();
    }
    for i in [0, 2] {
        let place = world.places[i].clone();
        let threshold = json!({"scope": "tenant", "scope_id": place.tenant, "metric": "disk.used_pct", "op": ">", "warning": 90.0});
        let threshold: Uuid = world
            .setup(Method::Post, "/api/thresholds", threshold, 201)
            .await["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let script: Uuid = world.new_script(Some(place.tenant)).await["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        world.places[i].threshold = threshold;
        world.places[i].script = script;
        let category = world.new_category(place.tenant).await;
        world.places[i].category = category["id"].as_str().unwrap().parse().unwrap();
        let assignment = world.new_assignment(place.tenant).await;
        world.places[i].assignment = assignment["id"].as_str().unwrap().parse().unwrap();
        let policy = world
            .setup(
                Method::Post,
                "/api/sla-policies",
                json!({"tenant_id": place.tenant}),
                201,
            )
            .await;
        world.places[i].policy = policy["id"].as_str().unwrap().parse().unwrap();
    }
    // The other site shares its tenant's tenant-wide objects.
    world.places[1].threshold = world.places[0].threshold;
    world.places[1].script = world.places[0].script;
    world.places[1].category = world.places[0].category;
    world.places[1].assignment = world.places[0].assignment;
    world.places[1].policy = world.places[0].policy;
    for i in 0..world.places.len() {
        let window = world.new_window(&world.places[i]).await;
        world.places[i].window = window["id"].as_str().unwrap().parse().unwrap();
    }
    (world, store)
}

fn concrete(row: &Row, place: &Place, fresh: &Value, world: &World) -> String {
    let id = if row.path.contains("/scripts/{id}/run") {
        world.approved_script.to_string()
    } else {
        (row.id)(place, fresh)
    };
    let mut path = row.path.replace("{id}", &id).replace("{kind}", &id);
    let query = (row.query)(place);
    if !query.is_empty() {
        path = format!("{path}?{query}");
    }
    path
}

#[actix_web::test]
async fn every_role_gets_the_contracts_answer_on_every_endpoint() {
    let rows = rows();
    // Every route is in the matrix or named as not role-based.
    let covered: BTreeSet<String> = rows
        .iter()
        .map(Row::name)
        .chain(NOT_ROLE_BASED.iter().map(|s| (*s).to_owned()))
        .collect();
    let table: BTreeSet<String> = routes::route_list()
        .into_iter()
        .map(|(m, p)| format!("{} {p}", m.as_str()))
        .collect();
    assert_eq!(covered, table, "matrix rows and the route table differ");

    let (world, store) = world().await;
    let mut failures = Vec::new();
    let mut known = Vec::new();
    for row in &rows {
        for (r, role) in ROLES.iter().enumerate() {
            for (t, target) in TARGETS.iter().enumerate() {
                let place = &world.places[t];
                let fresh = world.fresh(row.fresh, place, &store).await;
                let path = concrete(row, place, &fresh, &world);
                let body = (row.body)(place, &fresh, &world);
                let (status, answer) = world
                    .call(&world.tokens[r], row.method, &path, body.as_ref())
                    .await;
                let observed = match row.lists {
                    Some(id) if status == 200 => {
                        let wanted = id(place).to_string();
                        let seen = answer
                            .as_array()
                            .is_some_and(|items| items.iter().any(|i| i["id"] == wanted.as_str()));
                        if seen { SEEN } else { HIDDEN }
                    }
                    _ => status,
                };
                let expected = row.expect[r][t];
                let cell = format!(
                    "{} as {role} on {target:?}: expected {expected}, got {observed} {answer}",
                    row.name()
                );
                match (observed == expected, known_issue(row, role, *target)) {
                    (true, None) => {}
                    (false, None) => failures.push(cell),
                    (false, Some(note)) => known.push(format!("{cell} [known: {note}]")),
                    (true, Some(note)) => failures.push(format!(
                        "{} as {role} on {target:?} now answers as the contract says: take it off the known issues ({note})",
                        row.name()
                    )),
                }
            }
        }
    }
    for line in &known {
        eprintln!("known issue: {line}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
