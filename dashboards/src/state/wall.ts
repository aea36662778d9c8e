// The wall's live state: maps keyed by id, and small pure functions that apply a batch of NOC
// events (tested on recorded fixtures) and derive the views (sorted alerts, KPI counts).
import type { Alert, Device, Ticket } from "../api/types";
import type { NocEvent } from "../live/events";

export interface WallState {
  devices: ReadonlyMap<string, Device>;
  alerts: ReadonlyMap<string, Alert>;
  tickets: ReadonlyMap<string, Ticket>;
}

export const emptyWall: WallState = { devices: new Map(), alerts: new Map(), tickets: new Map() };

export function snapshot(devices: Device[], alerts: Alert[], tickets: Ticket[]): WallState {
  return {
    devices: new Map(devices.map((d) => [d.id, d])),
    alerts: new Map(alerts.filter(isOpen).map((a) => [a.id, a])),
    tickets: new Map(tickets.map((t) => [t.id, t])),
  };
}

/** An alert stays on the wall until it is resolved (a cleared one still needs a person); one
 * resolved while its condition still fires stays too, marked, so nobody believes it is over. */
export const isOpen = (a: Alert) => a.status !== "resolved" || a.state === "firing";

/** Resolved by a person while the engine still sees the condition. */
export const resolvedButFiring = (a: Alert) => a.status === "resolved" && a.state === "firing";

/** Applies a batch; maps are copied once per batch and only when the batch touches them. */
export function applyEvents(state: WallState, events: readonly NocEvent[]): WallState {
  let devices: Map<string, Device> | null = null;
  let alerts: Map<string, Alert> | null = null;
  let tickets: Map<string, Ticket> | null = null;
  for (const e of events) {
    if (e.type === "alert") {
      alerts ??= new Map(state.alerts);
      const prior = alerts.get(e.alert.id);
      // An older copy never overwrites a newer one (events and snapshot may cross).
      if (prior?.updated_at && e.alert.updated_at && prior.updated_at > e.alert.updated_at) continue;
      const next = { ...prior, ...e.alert, ...(e.event === "resolved" ? { status: "resolved" as const } : {}) };
      if (isOpen(next)) alerts.set(next.id, next);
      else alerts.delete(next.id);
      // A threshold alert opening was just evaluated from telemetry: its device is online (its
      // `online` event may come a moment later, or have been missed during a reconnect).
      const d = (devices ?? state.devices).get(e.alert.device_id);
      if (e.event === "opened" && e.alert.threshold_id && d && !d.online) {
        devices ??= new Map(state.devices);
        devices.set(d.id, { ...d, online: true });
      }
    } else if (e.type === "device") {
      const d = (devices ?? state.devices).get(e.device_id);
      // Devices outside the current filter are not on the wall; their events are not for it.
      if (!d) continue;
      devices ??= new Map(state.devices);
      if (e.event === "health") devices.set(d.id, { ...d, health: e.health });
      else devices.set(d.id, { ...d, online: e.event === "online" });
    } else if (e.type === "ticket") {
      tickets ??= new Map(state.tickets);
      tickets.set(e.ticket.id, { ...tickets.get(e.ticket.id), ...e.ticket });
    }
  }
  if (!devices && !alerts && !tickets) return state;
  return { devices: devices ?? state.devices, alerts: alerts ?? state.alerts, tickets: tickets ?? state.tickets };
}

const severityRank = { critical: 0, warning: 1 } as const;

/** Firing first, critical first, newest first (the API's own order). */
export function sortAlerts(alerts: Iterable<Alert>): Alert[] {
  return [...alerts].sort(
    (a, b) =>
      (a.state === "firing" ? 0 : 1) - (b.state === "firing" ? 0 : 1) ||
      severityRank[a.severity] - severityRank[b.severity] ||
      (a.opened_at < b.opened_at ? 1 : a.opened_at > b.opened_at ? -1 : 0),
  );
}

export type Light = "green" | "yellow" | "red" | "grey";

/** The semáforo: an offline device is grey whatever its last health. */
export function light(d: Pick<Device, "health" | "online">): Light {
  if (!d.online) return "grey";
  return d.health === "green" ? "green" : d.health === "yellow" ? "yellow" : d.health === "red" ? "red" : "grey";
}

export interface Kpis {
  devices: Record<Light, number>;
  total: number;
  alerts: { critical: number; warning: number };
  ticketsOpen: number;
  ticketsOverdue: number;
}

const CLOSED_TICKET = new Set(["resolved", "closed", "cancelled"]);

export function kpis(state: WallState, now: number): Kpis {
  const devices: Record<Light, number> = { green: 0, yellow: 0, red: 0, grey: 0 };
  for (const d of state.devices.values()) devices[light(d)]++;
  const alerts = { critical: 0, warning: 0 };
  for (const a of state.alerts.values()) if (a.status !== "resolved") alerts[a.severity]++;
  let ticketsOpen = 0;
  let ticketsOverdue = 0;
  for (const t of state.tickets.values()) {
    if (CLOSED_TICKET.has(t.status)) continue;
    ticketsOpen++;
    if (t.resolution_due_at && new Date(t.resolution_due_at).getTime() < now) ticketsOverdue++;
  }
  return { devices, total: state.devices.size, alerts, ticketsOpen, ticketsOverdue };
}
