// Domain shapes of the public contract (CONTRACT.md, docs/api.md). The engine's OpenAPI document
// does not carry schemas yet, so these are typed by hand here, in this one module; `gen:api`
// regenerates the paths and, once the document has schemas, these become aliases of them.

export type Uuid = string;
export type Role = "superadmin" | "admin" | "technician" | "client_admin" | "requester";
export type Health = "green" | "yellow" | "red" | "unknown";
export type Severity = "warning" | "critical";
export type AlertState = "firing" | "cleared";
export type AlertStatus = "open" | "in_progress" | "resolved";
export type Plan = "basic" | "inter" | "pro";
export type TicketStatus =
  | "new"
  | "pending_approval"
  | "assigned"
  | "in_progress"
  | "waiting_customer"
  | "resolved"
  | "closed"
  | "reopened"
  | "cancelled";
export type TicketPriority = "low" | "medium" | "high" | "critical";

export interface User {
  id: Uuid;
  email: string;
  name: string;
  role: Role;
  tenant_id: Uuid | null;
}

export interface LoginResponse {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
  user: User;
}

export interface Tenant {
  id: Uuid;
  name: string;
  plan: Plan;
  status: "active" | "suspended";
  time_zone?: string;
  created_at: string;
}

export interface Site {
  id: Uuid;
  tenant_id: Uuid;
  name: string;
  address: string | null;
  city: string | null;
  state: string | null;
  zip: string | null;
  lat: number | null;
  lon: number | null;
}

export interface Device {
  id: Uuid;
  device_key: string;
  tenant_id: Uuid;
  site_id: Uuid;
  name: string;
  kind: "agent" | "routeros";
  health: Health;
  online: boolean;
  last_seen_at: string | null;
  inventory_at: string | null;
  created_at: string;
  inventory?: Record<string, unknown> | null;
  routeros?: { host: string; port: number; tls: boolean; verify_tls: boolean };
}

export interface NewDevice {
  tenant_id: Uuid;
  site_id: Uuid;
  name: string;
  kind: "agent" | "routeros";
  routeros?: { host: string; port?: number; username: string; password: string; tls?: boolean };
}

export interface Alert {
  id: Uuid;
  tenant_id: Uuid;
  device_id: Uuid;
  key: string;
  threshold_id?: Uuid | null;
  severity: Severity;
  state: AlertState;
  status: AlertStatus;
  title: string;
  description: string;
  recommended_action: string | null;
  value: number | null;
  threshold: number | null;
  opened_at: string;
  cleared_at: string | null;
  acked_by: Uuid | null;
  acked_at?: string | null;
  ticket_id: Uuid | null;
  updated_at?: string;
  /** Raised while a maintenance window covered the device: visible, no ticket. */
  suppressed_by?: { kind: "maintenance"; id: Uuid } | null;
}

export interface MetricPoint {
  ts: string;
  value: number;
  min?: number;
  max?: number;
  count?: number;
}

export interface SeriesInfo {
  name: string;
  value: number;
  ts: string;
}

export interface LogLine {
  ts: string;
  tenant_id: Uuid;
  device_id: Uuid;
  level: string;
  source: string;
  message: string;
}

export interface Ticket {
  id: Uuid;
  number: string;
  tenant_id: Uuid;
  site_id: Uuid;
  device_id: Uuid | null;
  alert_id: Uuid | null;
  source: "portal" | "email" | "agent" | "alert" | "api";
  subject: string;
  description: string;
  priority: TicketPriority;
  category: string | null;
  category_id?: Uuid | null;
  status: TicketStatus;
  assigned_to: Uuid | null;
  created_by?: Uuid | null;
  affected_person?: string;
  affected_person_contact?: string;
  response_due_at: string | null;
  resolution_due_at: string | null;
  /** Business minutes left on each clock (negative once over); null without a policy. */
  response_remaining_min?: number | null;
  resolution_remaining_min?: number | null;
  /** Both clocks stopped for now (waiting on the customer, or a maintenance window). */
  sla_paused?: boolean;
  sla_policy_version?: number | null;
  created_at: string;
  updated_at?: string;
  comments?: TicketComment[];
  history?: TicketEvent[];
  sla_events?: SlaStep[];
}

/** An SLA escalation step fired on one of a ticket's clocks. */
export interface SlaStep {
  clock: "response" | "resolution";
  step: "warning" | "breached" | "reminder";
  seq: number;
  priority: TicketPriority;
  target_min: number;
  used_min: number;
  due_at: string | null;
  fired_at: string;
  notify: Uuid[];
}

/** One entry of a ticket's append-only history (internal ones only reach staff). */
export interface TicketEvent {
  at: string;
  actor_id?: Uuid | null;
  kind: string;
  from_value?: string | null;
  to_value?: string | null;
  comment?: string | null;
  internal: boolean;
}

export interface TicketComment {
  id: Uuid;
  author_id?: Uuid | null;
  author_name?: string | null;
  body: string;
  internal?: boolean;
  created_at: string;
}

export interface NewTicket {
  tenant_id: Uuid;
  site_id: Uuid;
  device_id?: Uuid;
  subject: string;
  description: string;
  priority: TicketPriority;
  affected_person: string;
  affected_person_contact?: string;
  additional_emails?: string[];
  category_id: Uuid;
}

export interface Meta {
  demo: boolean;
  /** Absent outside demo mode; `meta()` makes it an empty list. */
  accounts: { email: string; password: string; role: Role; label?: string }[];
}

/** The contract's error body; 402 adds the upsell fields, 400 `field`, 422 `from`/`to`. */
export interface ApiErrorBody {
  error: string;
  message: string;
  field?: string;
  upsell?: boolean;
  required_plan_hint?: Plan;
  from?: string;
  to?: string;
}
