import { call, http } from "./client";
import type { Device, Health, LogLine, MetricPoint, NewDevice, SeriesInfo } from "./types";

export interface DeviceFilter {
  tenant_id?: string;
  site_id?: string;
  health?: Health;
  online?: boolean;
  q?: string;
}

/** Every page of the filtered device list (the filters run on the server). */
export async function listDevices(filter: DeviceFilter = {}): Promise<Device[]> {
  const all: Device[] = [];
  let cursor: string | undefined;
  do {
    const { data, error, response } = await http.GET("/api/devices", {
      params: { query: { ...filter, limit: 1000, cursor } },
    });
    const page = await call(async () => ({ data, error, response }));
    all.push(...page);
    cursor = response.headers.get("X-Next-Cursor") ?? undefined;
  } while (cursor);
  return all;
}

export const getDevice = (id: string) =>
  call(() => http.GET("/api/devices/{id}", { params: { path: { id } } }));

export const createDevice = (body: NewDevice) => call(() => http.POST("/api/devices", { body }));

export async function metricHistory(
  id: string,
  name: string,
  from: Date,
  to: Date,
  bucket: "30s" | "1m" | "5m" | "1h" | "1d",
): Promise<MetricPoint[]> {
  const res = await call(() =>
    http.GET("/api/devices/{id}/metrics", {
      params: { path: { id }, query: { name, from: from.toISOString(), to: to.toISOString(), bucket } },
    }),
  );
  return res.points;
}

/** Names and latest values of a device's series; an engine without the endpoint gives none. */
export async function deviceSeries(id: string): Promise<SeriesInfo[]> {
  const { data, response } = await http.GET("/api/devices/{id}/series", { params: { path: { id } } });
  if (!response.ok || !data) return [];
  return Array.isArray(data) ? data : data.series;
}

export async function deviceLogs(id: string, limit: number, from?: Date, to?: Date): Promise<LogLine[]> {
  const res = await call(() =>
    http.GET("/api/devices/{id}/logs", {
      params: { path: { id }, query: { limit, from: from?.toISOString(), to: to?.toISOString() } },
    }),
  );
  return res.logs;
}

/** The CSV export's URL is fetched with the token and handed to the browser as a download. */
export async function downloadLogsCsv(id: string, from?: Date, to?: Date): Promise<Blob> {
  const { response } = await http.GET("/api/devices/{id}/logs", {
    params: {
      path: { id },
      query: { format: "csv", limit: 10000, from: from?.toISOString(), to: to?.toISOString() },
    },
    parseAs: "blob",
  });
  if (!response.ok) throw new Error(`CSV: ${response.status}`);
  return response.blob();
}
