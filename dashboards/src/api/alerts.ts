import { call, http } from "./client";
import type { Alert, AlertStatus } from "./types";

/** Open alerts (firing or not yet resolved), critical first; every page. */
export async function listOpenAlerts(query: { device_id?: string } = {}): Promise<Alert[]> {
  const out: Alert[] = [];
  for (const status of ["open", "in_progress"] as const) {
    let cursor: string | undefined;
    do {
      const { data, error, response } = await http.GET("/api/alerts", {
        params: { query: { ...query, status, limit: 1000, cursor } },
      });
      out.push(...(await call(async () => ({ data, error, response }))));
      cursor = response.headers.get("X-Next-Cursor") ?? undefined;
    } while (cursor);
  }
  return out;
}

export const ackAlert = (id: string, comment?: string) =>
  call(() => http.POST("/api/alerts/{id}/ack", { params: { path: { id } }, body: { comment } }));

export const setAlertStatus = (id: string, status: AlertStatus, comment?: string) =>
  call(() => http.PATCH("/api/alerts/{id}/status", { params: { path: { id } }, body: { status, comment } }));
