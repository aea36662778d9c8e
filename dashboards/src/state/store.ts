// The wall store: one signal holding the maps, fed by the socket through the frame batcher, and
// refilled from REST on every (re)connection. Filters run on the server: changing one reloads.
import { computed, signal } from "@preact/signals";
import { listOpenAlerts } from "../api/alerts";
import { listDevices, type DeviceFilter } from "../api/devices";
import { listTickets } from "../api/tickets";
import type { Ticket } from "../api/types";
import { FrameBatcher } from "../live/batcher";
import type { NocEvent } from "../live/events";
import { now } from "./clock";
import { applyEvents, emptyWall, kpis, snapshot, sortAlerts, type WallState } from "./wall";

export const wall = signal<WallState>(emptyWall);
export const loaded = signal(false);
export const filter = signal<DeviceFilter>({});
/** Metric events go to whoever watches a device (the detail page's charts). */
export const metricListeners = new Set<(e: Extract<NocEvent, { type: "metrics" }>) => void>();

export const sortedAlerts = computed(() => {
  const f = filter.value;
  const visible = [...wall.value.alerts.values()].filter((a) => !f.tenant_id || a.tenant_id === f.tenant_id);
  return sortAlerts(visible);
});
export const deviceList = computed(() => [...wall.value.devices.values()]);
export const wallKpis = computed(() => kpis(wall.value, now.value));

const batcher = new FrameBatcher<NocEvent>((batch) => {
  wall.value = applyEvents(wall.value, batch);
});

export function receive(e: NocEvent): void {
  if (e.type === "metrics") metricListeners.forEach((l) => l(e));
  else batcher.push(e);
}

/** REST snapshot under the current filter; tickets feed only the KPI tiles. */
export async function resync(): Promise<void> {
  const f = filter.value;
  const [devices, alerts, tickets] = await Promise.all([
    listDevices(f),
    listOpenAlerts(),
    listTickets().catch((): Ticket[] => []),
  ]);
  batcher.flush();
  wall.value = snapshot(devices, alerts, tickets);
  loaded.value = true;
}

export async function reloadDevices(): Promise<void> {
  const devices = await listDevices(filter.value);
  wall.value = { ...wall.value, devices: new Map(devices.map((d) => [d.id, d])) };
}
