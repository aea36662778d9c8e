//! The one route table. [`endpoints`] lists every route once — method, path, handler, summary,
//! who may call it, and the types of its parameters, body and answers — and both
//! [`register`] (actix-web) and [`openapi`] (the OpenAPI 3.1 document at `/api/openapi.json`
//! and `centinela openapi`) are built from it, so they cannot disagree.
//!
//! Adding an endpoint is one entry in [`endpoints`] plus `utoipa::ToSchema` on its body and
//! answer types and `utoipa::IntoParams` on its query type.
//!
//! Unknown routes: under `/api`, `/ws`, `/healthz`, `/readyz` and `/metrics` an unknown path
//! answers the contract's JSON 404 and a known path with another method answers a JSON 405
//! with an `Allow` header. Everything else is left to the application (the web app).

use crate::error::{ApiError, ErrorBody};
use crate::{
    agents, alerts, audit, auth, device_logs, device_metrics, devices, fleet, log_rules,
    maintenance_windows, meta, noc, ops, page, scripts, sites, sla_metrics, sla_policies,
    technician_assignments, tenants, thresholds, ticket_categories, ticket_writes, tickets, users,
};
use actix_web::{FromRequest, Handler, Responder, Route, web};
use std::cmp::Ordering;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, Paths,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ArrayBuilder, ComponentsBuilder, Content, Info, OpenApi, OpenApiBuilder, Ref, RefOr, Required,
    ResponseBuilder, ResponsesBuilder, Schema,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// Every method, in the order `Allow` lists them.
    pub const ALL: [Method; 5] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ];

    /// The method's name as HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    fn actix(self) -> actix_web::http::Method {
        match self {
            Method::Get => actix_web::http::Method::GET,
            Method::Post => actix_web::http::Method::POST,
            Method::Put => actix_web::http::Method::PUT,
            Method::Patch => actix_web::http::Method::PATCH,
            Method::Delete => actix_web::http::Method::DELETE,
        }
    }

    fn openapi(self) -> HttpMethod {
        match self {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
            Method::Put => HttpMethod::Put,
            Method::Patch => HttpMethod::Patch,
            Method::Delete => HttpMethod::Delete,
        }
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone (login, refresh, health, enrollment with a site key in the body).
    Public,
    /// A user's access token: `Authorization: Bearer <JWT>`.
    Bearer,
    /// An agent's device token: `Authorization: Bearer <device token>`.
    DeviceToken,
}

/// The security scheme names in the document.
const BEARER: &str = "bearer";
const DEVICE_TOKEN: &str = "device_token";

type Schemas = Vec<(String, RefOr<Schema>)>;

/// One answer of an endpoint: status, description, and body.
struct Answer {
    status: u16,
    description: String,
    content: Option<(&'static str, RefOr<Schema>)>,
    /// A list page: `X-Next-Cursor` and `Link` headers.
    paged: bool,
}

/// One route: what registers it and what documents it.
pub struct Endpoint {
    pub method: Method,
    /// The full path, actix-web and OpenAPI style: `/api/devices/{id}`.
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    route: Option<Route>,
    params: Vec<Parameter>,
    body: Option<(RefOr<Schema>, bool)>,
    answers: Vec<Answer>,
    errors: Vec<u16>,
    schemas: Schemas,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

/// A `$ref` to `T`, recording `T` and the types it refers to in `schemas`.
fn reference<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

impl Endpoint {
    /// A route calling `handler` for `method` on `path`, answered by a bearer-token caller.
    pub fn new<F, Args>(
        method: Method,
        path: &'static str,
        summary: &'static str,
        handler: F,
    ) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        Endpoint {
            method,
            path,
            summary,
            auth: Auth::Bearer,
            route: Some(web::method(method.actix()).to(handler)),
            params: Vec::new(),
            body: None,
            answers: Vec::new(),
            errors: Vec::new(),
            schemas: Vec::new(),
        }
    }

    /// Who may call it (default: [`Auth::Bearer`]).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Documents a path parameter's type; parameters not named here are UUIDs when their name
    /// ends in `id`, strings otherwise.
    pub fn path_param<T: PartialSchema>(mut self, name: &str, description: &str) -> Self {
        self.params.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(T::schema()))
                .build(),
        );
        self
    }

    /// The query string's fields.
    pub fn query<Q: IntoParams>(mut self) -> Self {
        self.params
            .extend(Q::into_params(|| Some(ParameterIn::Query)));
        self
    }

    /// A required JSON body.
    pub fn body<T: ToSchema>(mut self) -> Self {
        self.body = Some((reference::<T>(&mut self.schemas), true));
        self
    }

    /// A JSON body that may be absent.
    pub fn optional_body<T: ToSchema>(mut self) -> Self {
        self.body = Some((reference::<T>(&mut self.schemas), false));
        self
    }

    /// Answers `status` with a `T` as JSON.
    pub fn answers<T: ToSchema>(mut self, status: u16, description: &str) -> Self {
        let schema = reference::<T>(&mut self.schemas);
        self.answers.push(Answer {
            status,
            description: description.to_owned(),
            content: Some(("application/json", schema)),
            paged: false,
        });
        self
    }

    /// `200` with a `T`.
    pub fn ok<T: ToSchema>(self) -> Self {
        self.answers::<T>(200, "Success")
    }

    /// `201` with the created `T`.
    pub fn created<T: ToSchema>(self) -> Self {
        self.answers::<T>(201, "Created")
    }

    /// `200` with one page of `T`s (the list shape: a JSON array, the next page's cursor in
    /// `X-Next-Cursor` and `Link`).
    pub fn list<T: ToSchema>(mut self) -> Self {
        let item = reference::<T>(&mut self.schemas);
        let array = ArrayBuilder::new().items(item).build();
        self.answers.push(Answer {
            status: 200,
            description: "One page of the list".into(),
            content: Some(("application/json", RefOr::T(Schema::Array(array)))),
            paged: true,
        });
        self
    }

    /// An answer with a non-JSON body (`text/csv`, `text/plain`) or none (`content_type`
    /// `None`).
    pub fn answers_raw(
        mut self,
        status: u16,
        content_type: Option<&'static str>,
        description: &str,
    ) -> Self {
        self.answers.push(Answer {
            status,
            description: description.to_owned(),
            content: content_type.map(|c| (c, String::schema())),
            paged: false,
        });
        self
    }

    /// Error statuses beyond the ones every endpoint of its kind has (401 with a token, 400
    /// with input, 404 with a path parameter).
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }

    /// The names of the `{parameters}` in the path.
    fn path_names(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }

    /// Every error status this endpoint documents.
    fn error_statuses(&self) -> Vec<u16> {
        let has_input =
            self.body.is_some() || !self.params.is_empty() || !self.path_names().is_empty();
        let mut statuses = self.errors.clone();
        if self.auth != Auth::Public {
            statuses.push(401);
        }
        if has_input {
            statuses.push(400);
        }
        if !self.path_names().is_empty() {
            statuses.push(404);
        }
        statuses.sort_unstable();
        statuses.dedup();
        statuses
    }

    fn operation(&self) -> Operation {
        let mut params = self.params.clone();
        for name in self.path_names() {
            if params.iter().any(|p| p.name == name) {
                continue;
            }
            let schema: RefOr<Schema> = if name.ends_with("id") {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .into()
            } else {
                String::schema()
            };
            params.push(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(schema))
                    .build(),
            );
        }
        let mut responses = ResponsesBuilder::new();
        for answer in &self.answers {
            let mut response = ResponseBuilder::new().description(answer.description.clone());
            if let Some((content_type, schema)) = &answer.content {
                response = response.content(*content_type, Content::new(Some(schema.clone())));
            }
            if answer.paged {
                response = response
                    .header(
                        "X-Next-Cursor",
                        utoipa::openapi::Header::new(String::schema()),
                    )
                    .header("Link", utoipa::openapi::Header::new(String::schema()));
            }
            responses = responses.response(answer.status.to_string(), response.build());
        }
        for status in self.error_statuses() {
            let error = ResponseBuilder::new()
                .description(error_description(status))
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name(ErrorBody::name()))),
                )
                .build();
            responses = responses.response(status.to_string(), error);
        }
        let mut operation = OperationBuilder::new()
            .summary(Some(self.summary))
            .operation_id(Some(operation_id(self.method, self.path)))
            .tag(tag(self.path))
            .parameters(Some(params))
            .responses(responses.build());
        if let Some((schema, required)) = &self.body {
            let required = if *required {
                Required::True
            } else {
                Required::False
            };
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(required))
                    .content("application/json", Content::new(Some(schema.clone())))
                    .build(),
            ));
        }
        let security = match self.auth {
            Auth::Public => None,
            Auth::Bearer => Some(BEARER),
            Auth::DeviceToken => Some(DEVICE_TOKEN),
        };
        if let Some(name) = security {
            operation =
                operation.securities(Some([SecurityRequirement::new(name, Vec::<String>::new())]));
        }
        operation.build()
    }
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "Invalid input; `field` names the offending field",
        401 => "Missing, invalid or expired token",
        402 => "The tenant's plan has no room (`upsell`, `required_plan_hint`)",
        403 => "The caller's role may not do this, or its tenant is suspended",
        404 => "Not found, or not visible to the caller",
        409 => "A duplicate or a concurrent change",
        422 => "A state move that is not allowed (`from`, `to`)",
        429 => "Too many attempts; try again later",
        503 => "A dependency is not ready, or the server is busy; try again",
        _ => "Error",
    }
}

/// `get_api_devices_id`: stable, unique, usable as a generated client's function name.
fn operation_id(method: Method, path: &str) -> String {
    let words: Vec<String> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    format!("{}_{}", method.as_str().to_lowercase(), words.join("_"))
}

/// The first segment after `/api/` (or the path itself): groups operations in the document.
fn tag(path: &str) -> String {
    let rest = path
        .strip_prefix("/api/")
        .unwrap_or(path.trim_start_matches('/'));
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// Every route of the crate. Order does not matter: [`register`] puts literal segments before
/// `{parameters}` so `/api/x/export` is never taken for `/api/x/{id}`.
pub fn endpoints() -> Vec<Endpoint> {
    use Auth::{DeviceToken, Public};
    use Method::{Delete, Get, Patch, Post, Put};
    vec![
        // Operations.
        Endpoint::new(Get, "/healthz", "Liveness: the process answers", ops::healthz)
            .auth(Public)
            .ok::<ops::Health>(),
        Endpoint::new(Get, "/readyz", "Readiness: database reachable and broker up", ops::readyz)
            .auth(Public)
            .ok::<ops::Readiness>()
            .errors(&[503]),
        Endpoint::new(Get, "/metrics", "Prometheus text exposition of the engine's counters", ops::metrics)
            .auth(Public)
            .answers_raw(200, Some("text/plain; version=0.0.4"), "Prometheus text format"),
        Endpoint::new(Get, "/api/openapi.json", "This OpenAPI document", ops::openapi_json)
            .auth(Public)
            .answers_raw(200, Some("application/json"), "The OpenAPI 3.1 document"),
        // Sessions.
        Endpoint::new(Post, "/api/auth/login", "Log in with email and password", auth::login)
            .auth(Public)
            .body::<auth::LoginBody>()
            .ok::<auth::TokenPair>()
            .errors(&[401, 429, 503]),
        Endpoint::new(Post, "/api/auth/refresh", "Trade a refresh token (single use; reuse ends its session) for a new token pair", auth::refresh)
            .auth(Public)
            .body::<auth::RefreshBody>()
            .ok::<auth::TokenPair>()
            .errors(&[401]),
        Endpoint::new(Post, "/api/auth/logout", "End the caller's session (?all=true: every session of the user) and its NOC sockets", auth::logout)
            .query::<auth::LogoutQuery>()
            .answers_raw(204, None, "Logged out"),
        Endpoint::new(Get, "/api/auth/me", "The current user", auth::me).ok::<auth::UserView>(),
        // Tenants and sites.
        Endpoint::new(Get, "/api/tenants", "List visible tenants", tenants::list)
            .query::<page::PageQuery>()
            .list::<centinela_storage::tenants::Tenant>(),
        Endpoint::new(Post, "/api/tenants", "Create a tenant (superadmin, admin)", tenants::create)
            .body::<tenants::NewTenantBody>()
            .created::<centinela_storage::tenants::Tenant>()
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/tenants/{id}", "One tenant", tenants::get)
            .ok::<centinela_storage::tenants::Tenant>(),
        Endpoint::new(Patch, "/api/tenants/{id}", "Change a tenant's plan or status (superadmin, admin)", tenants::patch)
            .body::<tenants::PatchTenantBody>()
            .ok::<centinela_storage::tenants::Tenant>()
            .errors(&[403]),
        Endpoint::new(Get, "/api/sites", "List visible sites", sites::list)
            .query::<sites::SiteQuery>()
            .list::<centinela_storage::sites::Site>(),
        Endpoint::new(Post, "/api/sites", "Create a site", sites::create)
            .body::<sites::NewSiteBody>()
            .created::<centinela_storage::sites::Site>()
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/sites/{id}", "One site (site_key for staff only)", sites::get)
            .ok::<centinela_storage::sites::Site>(),
        // Devices.
        Endpoint::new(Get, "/api/devices", "List visible devices with health and online", devices::list)
            .query::<devices::DeviceQuery>()
            .list::<devices::DeviceView>(),
        Endpoint::new(Post, "/api/devices", "Create an agent (returns its token once) or a router (credentials sealed, never returned)", devices::create)
            .body::<devices::NewDeviceBody>()
            .created::<devices::CreatedDevice>()
            .errors(&[402, 403, 409]),
        Endpoint::new(Get, "/api/devices/{id}", "One device", devices::get).ok::<devices::DeviceView>(),
        Endpoint::new(Patch, "/api/devices/{id}", "Rename a device or change how a router is reached", devices::patch)
            .body::<devices::PatchDeviceBody>()
            .ok::<devices::DeviceView>()
            .errors(&[403, 409]),
        Endpoint::new(Delete, "/api/devices/{id}", "Delete a device", devices::delete)
            .answers_raw(204, None, "Deleted")
            .errors(&[403]),
        Endpoint::new(Get, "/api/devices/{id}/metrics", "Raw or bucketed points of one metric series", device_metrics::series)
            .query::<device_metrics::MetricsQuery>()
            .ok::<device_metrics::Series>(),
        Endpoint::new(Get, "/api/devices/{id}/logs", "A device's log lines, newest first (JSON, or CSV with format=csv)", device_logs::list)
            .query::<device_logs::LogsQuery>()
            .ok::<device_logs::LogLines>()
            .answers_raw(200, Some("text/csv"), "The same page as CSV (format=csv)"),
        Endpoint::new(Get, "/api/devices/{id}/series", "A device's series with their latest values", devices::series)
            .ok::<devices::DeviceSeries>(),
        Endpoint::new(Get, "/api/meta", "Demo mode, its accounts (demo only) and the engine's version", meta::meta)
            .auth(Public)
            .ok::<meta::Meta>(),
        // Users, audit, fleet health and subscription (issue 11).
        Endpoint::new(Get, "/api/users", "List the users the caller may see (role, tenant_id, active, q)", users::list)
            .query::<users::UserQuery>()
            .list::<users::UserDetail>()
            .errors(&[403]),
        Endpoint::new(Post, "/api/users", "Create a user (role rules in docs/api.md)", users::create)
            .body::<users::NewUserBody>()
            .created::<users::CreatedUser>()
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/users/{id}", "One user", users::get).ok::<users::UserDetail>(),
        Endpoint::new(Patch, "/api/users/{id}", "Change a user's name, role, sites, phone, password or active flag", users::patch)
            .body::<users::PatchUserBody>()
            .ok::<users::UserDetail>()
            .errors(&[403, 409]),
        Endpoint::new(Delete, "/api/users/{id}", "Delete a user (its sessions end at once)", users::delete)
            .answers_raw(204, None, "Deleted")
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/audit", "The audit trail, newest first (JSON, or CSV with format=csv)", audit::list)
            .query::<audit::AuditQuery>()
            .list::<centinela_storage::audit::Entry>()
            .answers_raw(200, Some("text/csv"), "The same entries as CSV (format=csv), streamed")
            .errors(&[403]),
        Endpoint::new(Get, "/api/health/devices", "Device counts by health per visible tenant", fleet::devices_health)
            .query::<fleet::HealthQuery>()
            .list::<centinela_storage::health::TenantHealth>(),
        Endpoint::new(Get, "/api/subscription/status", "A tenant's plan, device limit and use", fleet::subscription_status)
            .query::<fleet::SubscriptionQuery>()
            .ok::<fleet::SubscriptionStatus>(),
        Endpoint::new(Get, "/api/log-rules", "A tenant's router log heuristics (configured or default)", log_rules::list)
            .query::<log_rules::TenantQuery>()
            .ok::<Vec<log_rules::EffectiveRule>>(),
        Endpoint::new(Put, "/api/log-rules/{kind}", "Configure one log heuristic of a tenant", log_rules::put)
            .path_param::<String>("kind", "brute_force, wan_instability or link_down")
            .body::<log_rules::RuleBody>()
            .ok::<log_rules::EffectiveRule>()
            .errors(&[403]),
        Endpoint::new(Delete, "/api/log-rules/{kind}", "Return one log heuristic of a tenant to its default", log_rules::reset)
            .path_param::<String>("kind", "brute_force, wan_instability or link_down")
            .query::<log_rules::TenantQuery>()
            .answers_raw(204, None, "Back to the default")
            .errors(&[403]),
        // Thresholds and alerts.
        Endpoint::new(Get, "/api/thresholds", "List visible thresholds", thresholds::list)
            .query::<page::PageQuery>()
            .list::<centinela_storage::thresholds::Threshold>(),
        Endpoint::new(Post, "/api/thresholds", "Create a threshold", thresholds::create)
            .body::<thresholds::NewThresholdBody>()
            .created::<centinela_storage::thresholds::Threshold>()
            .errors(&[403, 404, 409]),
        Endpoint::new(Patch, "/api/thresholds/{id}", "Change a threshold's rule", thresholds::patch)
            .body::<thresholds::PatchThresholdBody>()
            .ok::<centinela_storage::thresholds::Threshold>()
            .errors(&[403]),
        Endpoint::new(Delete, "/api/thresholds/{id}", "Delete a threshold", thresholds::delete)
            .answers_raw(204, None, "Deleted")
            .errors(&[403]),
        Endpoint::new(Get, "/api/alerts", "List visible alerts", alerts::list)
            .query::<alerts::AlertQuery>()
            .list::<centinela_storage::alerts::Alert>(),
        Endpoint::new(Get, "/api/alerts/{id}", "One alert with its history", alerts::get)
            .ok::<alerts::AlertDetail>(),
        Endpoint::new(Post, "/api/alerts/{id}/ack", "Acknowledge an alert", alerts::ack)
            .optional_body::<alerts::AckBody>()
            .ok::<centinela_storage::alerts::Alert>()
            .errors(&[403, 422]),
        Endpoint::new(Patch, "/api/alerts/{id}/status", "Move an alert's workflow status", alerts::set_status)
            .body::<alerts::StatusBody>()
            .ok::<centinela_storage::alerts::Alert>()
            .errors(&[403, 422]),
        // Tickets.
        Endpoint::new(Get, "/api/tickets", "List visible tickets", tickets::list)
            .query::<tickets::TicketQuery>()
            .list::<centinela_storage::tickets::Ticket>(),
        Endpoint::new(Get, "/api/tickets/{id}", "One ticket (UUID or TKT- number) with its history", tickets::get)
            .path_param::<String>("id", "The ticket's UUID or its number (TKT-000123)")
            .ok::<tickets::TicketDetail>(),
        Endpoint::new(Post, "/api/tickets", "Open a ticket (portal flow tenant → site → device; category required)", ticket_writes::create)
            .body::<ticket_writes::CreateTicketBody>()
            .created::<ticket_writes::CreatedTicket>()
            .errors(&[403, 404]),
        Endpoint::new(Patch, "/api/tickets/{id}", "Move, reprioritise, recategorise or assign a ticket (state table in docs/api.md)", ticket_writes::patch)
            .path_param::<String>("id", "UUID or number (TKT-000123)")
            .body::<ticket_writes::PatchTicketBody>()
            .ok::<ticket_writes::ChangedTicket>()
            .errors(&[403, 409, 422]),
        Endpoint::new(Post, "/api/tickets/{id}/comments", "Comment on a ticket (internal: staff only)", ticket_writes::comment)
            .path_param::<String>("id", "UUID or number (TKT-000123)")
            .body::<ticket_writes::CommentBody>()
            .created::<ticket_writes::CreatedComment>()
            .errors(&[403, 422]),
        Endpoint::new(Get, "/api/ticket-categories", "Ticket categories visible to the caller (MSP-wide and its tenant's)", ticket_categories::list)
            .query::<ticket_categories::CategoryQuery>()
            .list::<centinela_storage::ticket_categories::Category>(),
        Endpoint::new(Post, "/api/ticket-categories", "Create a category (superadmin, admin)", ticket_categories::create)
            .body::<ticket_categories::CreateCategoryBody>()
            .created::<ticket_categories::CreatedCategory>()
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/ticket-categories/{id}", "One category", ticket_categories::get)
            .ok::<centinela_storage::ticket_categories::Category>(),
        Endpoint::new(Patch, "/api/ticket-categories/{id}", "Rename a category or change whether it needs approval", ticket_categories::patch)
            .body::<ticket_categories::PatchCategoryBody>()
            .ok::<centinela_storage::ticket_categories::Category>()
            .errors(&[403]),
        Endpoint::new(Delete, "/api/ticket-categories/{id}", "Delete a category", ticket_categories::delete)
            .answers_raw(204, None, "Deleted")
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/sla-policies", "SLA policies: the MSP-wide default and the tenants' own (newest versions, or every version)", sla_policies::list)
            .query::<sla_policies::PolicyQuery>()
            .list::<centinela_storage::sla::Policy>()
            .errors(&[403]),
        Endpoint::new(Post, "/api/sla-policies", "A tenant's first SLA policy (superadmin, admin)", sla_policies::create)
            .body::<sla_policies::CreatePolicyBody>()
            .created::<centinela_storage::sla::Policy>()
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/sla-policies/{id}", "One SLA policy version", sla_policies::get)
            .ok::<centinela_storage::sla::Policy>()
            .errors(&[403]),
        Endpoint::new(Patch, "/api/sla-policies/{id}", "A new version of an SLA policy (superadmin, admin); tickets keep the version they run under", sla_policies::patch)
            .body::<sla_policies::PatchPolicyBody>()
            .ok::<centinela_storage::sla::Policy>()
            .errors(&[403]),
        Endpoint::new(Post, "/api/sla-policies/{id}/apply", "Move the open tickets of the policy's line to its newest version (superadmin, admin; audited)", sla_policies::apply)
            .ok::<sla_policies::Applied>()
            .errors(&[403]),
        Endpoint::new(Get, "/api/sla/metrics", "The helpdesk's SLA numbers over tickets created in [from, to), grouped (format=csv for one line per group)", sla_metrics::metrics)
            .query::<sla_metrics::MetricsQuery>()
            .ok::<sla_metrics::SlaMetrics>()
            .errors(&[403]),
        Endpoint::new(Get, "/api/maintenance-windows", "Maintenance windows the caller sees (staff; a client_admin its tenant's); upcoming=true for the running and future ones", maintenance_windows::list)
            .query::<maintenance_windows::WindowQuery>()
            .list::<maintenance_windows::WindowView>()
            .errors(&[403]),
        Endpoint::new(Post, "/api/maintenance-windows", "Plan a window on a tenant, site or device: one-off or recurring (weekly/monthly in a time zone); its alerts are suppressed and SLA clocks pause", maintenance_windows::create)
            .body::<maintenance_windows::CreateWindowBody>()
            .created::<maintenance_windows::WindowView>()
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/maintenance-windows/{id}", "One maintenance window", maintenance_windows::get)
            .ok::<maintenance_windows::WindowView>()
            .errors(&[403]),
        Endpoint::new(Patch, "/api/maintenance-windows/{id}", "Change a window (end it early by moving ends_at)", maintenance_windows::patch)
            .body::<maintenance_windows::PatchWindowBody>()
            .ok::<maintenance_windows::WindowView>()
            .errors(&[403]),
        Endpoint::new(Delete, "/api/maintenance-windows/{id}", "Delete a window", maintenance_windows::delete)
            .answers_raw(204, None, "Deleted")
            .errors(&[403]),
        Endpoint::new(Get, "/api/technician-assignments", "A tenant's ordered technician list", technician_assignments::list)
            .query::<technician_assignments::AssignmentQuery>()
            .list::<centinela_storage::assignment::TechnicianAssignment>()
            .errors(&[403]),
        Endpoint::new(Post, "/api/technician-assignments", "Add a technician to a tenant's list", technician_assignments::create)
            .body::<technician_assignments::CreateAssignmentBody>()
            .created::<technician_assignments::CreatedAssignment>()
            .errors(&[403, 409]),
        Endpoint::new(Delete, "/api/technician-assignments/{id}", "Remove a technician from a tenant's list", technician_assignments::delete)
            .answers_raw(204, None, "Deleted")
            .errors(&[403]),
        // Agents.
        Endpoint::new(Post, "/api/agents/certificate", "Sign an agent's CSR (device token auth)", agents::certificate)
            .auth(DeviceToken)
            .body::<agents::CertificateBody>()
            .ok::<agents::CertificateIssued>(),
        Endpoint::new(Post, "/api/agents/enroll", "Enroll an agent with its site key; returns its device, token, broker and command key", agents::enroll)
            .auth(Public)
            .body::<agents::EnrollBody>()
            .created::<agents::Enrollment>()
            .errors(&[402, 404, 429]),
        // Scripts.
        Endpoint::new(Get, "/api/scripts", "Scripts usable for a tenant", scripts::list)
            .query::<scripts::ListQuery>()
            .list::<centinela_storage::scripts::Script>(),
        Endpoint::new(Post, "/api/scripts", "Store a script (unapproved)", scripts::create)
            .body::<scripts::NewScriptBody>()
            .created::<centinela_storage::scripts::Script>()
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/scripts/{id}", "One script", scripts::get)
            .ok::<centinela_storage::scripts::Script>(),
        Endpoint::new(Patch, "/api/scripts/{id}", "Change a script (withdraws its approval)", scripts::patch)
            .body::<scripts::PatchScriptBody>()
            .ok::<centinela_storage::scripts::Script>()
            .errors(&[403, 409]),
        Endpoint::new(Delete, "/api/scripts/{id}", "Delete a script", scripts::delete)
            .answers_raw(204, None, "Deleted")
            .errors(&[403]),
        Endpoint::new(Post, "/api/scripts/{id}/approve", "Approve a script as reviewed ({updated_at}; MSP admins)", scripts::approve)
            .optional_body::<scripts::ApproveBody>()
            .ok::<centinela_storage::scripts::Script>()
            .errors(&[403, 409]),
        Endpoint::new(Post, "/api/scripts/{id}/run", "Run an approved script on an agent (signed command)", scripts::run)
            .body::<scripts::RunBody>()
            .answers::<scripts::RunRequested>(202, "Sent to the agent")
            .errors(&[403, 409]),
        Endpoint::new(Get, "/api/script-runs", "Script runs with their results", scripts::list_runs)
            .query::<scripts::ListQuery>()
            .list::<centinela_storage::scripts::ScriptRun>(),
        Endpoint::new(Get, "/api/script-runs/{id}", "One script run", scripts::get_run)
            .ok::<centinela_storage::scripts::ScriptRun>(),
        // The NOC socket.
        Endpoint::new(Get, "/ws/noc", "NOC WebSocket: live alert, device, ticket and metric events (token in ?access_token or the first message)", noc::noc)
            .query::<noc::NocQuery>()
            .answers_raw(101, None, "Switching to the WebSocket protocol"),
    ]
}

/// Orders paths so that, segment by segment, a literal comes before a `{parameter}`.
fn route_order(a: &str, b: &str) -> Ordering {
    let mut left = a.split('/');
    let mut right = b.split('/');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = x
                    .starts_with('{')
                    .cmp(&y.starts_with('{'))
                    .then_with(|| x.cmp(y));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// The routes grouped by path (sorted by [`route_order`]), with their methods.
fn by_path(mut table: Vec<Endpoint>) -> Vec<(&'static str, Vec<Endpoint>)> {
    table.sort_by(|a, b| route_order(a.path, b.path).then(a.method.cmp(&b.method)));
    let mut groups: Vec<(&'static str, Vec<Endpoint>)> = Vec::new();
    for endpoint in table {
        match groups.last_mut() {
            Some((path, group)) if *path == endpoint.path => group.push(endpoint),
            _ => groups.push((endpoint.path, vec![endpoint])),
        }
    }
    groups
}

/// One resource per path: its routes, and a JSON 405 naming the allowed methods otherwise.
fn resource(path: &str, group: Vec<Endpoint>) -> actix_web::Resource {
    let allow = group
        .iter()
        .map(|e| e.method.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut resource = web::resource(path).default_service(web::to(move || {
        let allow = allow.clone();
        async move { Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed { allow }) }
    }));
    for mut endpoint in group {
        if let Some(route) = endpoint.route.take() {
            resource = resource.route(route);
        }
    }
    resource
}

/// The JSON 404 of the API's prefixes.
async fn unknown_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::UnknownRoute)
}

/// Registers every route of [`endpoints`]: `/api/*` and `/ws/*` in scopes whose unknown paths
/// answer a JSON 404, the operations paths at the root.
pub fn register(cfg: &mut web::ServiceConfig) {
    let mut api = web::scope("/api").default_service(web::to(unknown_route));
    let mut ws = web::scope("/ws").default_service(web::to(unknown_route));
    let mut root: Vec<actix_web::Resource> = Vec::new();
    for (path, group) in by_path(endpoints()) {
        if let Some(rest) = path.strip_prefix("/api") {
            api = api.service(resource(rest, group));
        } else if let Some(rest) = path.strip_prefix("/ws") {
            ws = ws.service(resource(rest, group));
        } else {
            root.push(resource(path, group));
        }
    }
    for r in root {
        cfg.service(r);
    }
    cfg.service(api).service(ws);
}

/// The OpenAPI document of every route in [`endpoints`].
pub fn openapi() -> OpenApi {
    let mut paths = Paths::new();
    let mut schemas: Schemas = Vec::new();
    reference::<ErrorBody>(&mut schemas);
    for endpoint in endpoints() {
        paths.add_path_operation(
            endpoint.path,
            vec![endpoint.method.openapi()],
            endpoint.operation(),
        );
        schemas.extend(endpoint.schemas);
    }
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A user's access token from /api/auth/login"))
                    .build(),
            ),
        )
        .security_scheme(
            DEVICE_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An agent's device token, given once at enrollment"))
                    .build(),
            ),
        );
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(Info::new("Centinela API", env!("CARGO_PKG_VERSION")))
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// `(method, path)` of every route in the table, for tests and tools.
pub fn route_list() -> Vec<(Method, &'static str)> {
    endpoints().iter().map(|e| (e.method, e.path)).collect()
}

/// `(method, full path)` of every route [`register`] mounts, from the same grouping it uses.
pub fn registered() -> Vec<(Method, String)> {
    by_path(endpoints())
        .into_iter()
        .flat_map(|(path, group)| {
            group
                .into_iter()
                .filter(|e| e.route.is_some())
                .map(move |e| (e.method, path.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Routes are added here only: no handler is mounted by hand elsewhere in the crate.
    #[test]
    fn no_route_is_registered_outside_the_table() {
        for (file, text) in [
            ("lib.rs", include_str!("lib.rs")),
            ("ops.rs", include_str!("ops.rs")),
        ] {
            for pattern in [".route(", "web::resource(", "web::scope(", ".service("] {
                assert!(
                    !text.contains(pattern),
                    "{file} mounts a route with {pattern}"
                );
            }
        }
    }

    #[test]
    fn literal_segments_come_before_parameters() {
        assert_eq!(route_order("/api/x/export", "/api/x/{id}"), Ordering::Less);
        assert_eq!(
            route_order("/api/x/{id}", "/api/x/export"),
            Ordering::Greater
        );
        assert_eq!(route_order("/api/x", "/api/x/{id}"), Ordering::Less);
    }

    #[test]
    fn every_route_is_unique_and_in_the_document_with_its_schemas() {
        let routes = route_list();
        let unique: BTreeSet<_> = routes.iter().collect();
        assert_eq!(unique.len(), routes.len(), "a route is listed twice");
        let doc = serde_json::to_value(openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let listed: BTreeSet<_> = routes
            .iter()
            .map(|(m, p)| (m.as_str().to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(documented, listed);
        // Every `$ref` points at a schema the document carries.
        let text = doc.to_string();
        let components = doc["components"]["schemas"].as_object().unwrap();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &piece[..piece.find('"').unwrap()];
            assert!(components.contains_key(name), "missing schema {name}");
        }
        assert!(components.contains_key("ErrorBody"));
    }

    #[test]
    fn operations_carry_parameters_bodies_errors_and_security() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let patch = &doc["paths"]["/api/devices/{id}"]["patch"];
        assert_eq!(patch["parameters"][0]["name"], "id");
        assert_eq!(patch["parameters"][0]["in"], "path");
        assert_eq!(
            patch["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/PatchDeviceBody"
        );
        for status in ["400", "401", "404"] {
            assert_eq!(
                patch["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{status}"
            );
        }
        assert_eq!(patch["security"][0]["bearer"], serde_json::json!([]));
        let alerts = &doc["paths"]["/api/alerts"]["get"];
        let names: Vec<_> = alerts["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        for name in ["state", "severity", "limit", "cursor"] {
            assert!(names.contains(&name.to_owned()), "{name} in {names:?}");
        }
        assert!(alerts["responses"]["200"]["headers"]["X-Next-Cursor"].is_object());
        let cert = &doc["paths"]["/api/agents/certificate"]["post"];
        assert_eq!(cert["security"][0]["device_token"], serde_json::json!([]));
        assert!(doc["paths"]["/api/auth/login"]["post"]["security"].is_null());
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["device_token"]["scheme"], "bearer");
        let device = &doc["components"]["schemas"]["DeviceView"]["properties"];
        assert!(device["health"].is_object() && device["online"].is_object());
    }
}
