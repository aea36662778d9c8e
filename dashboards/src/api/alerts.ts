import { call, http } from "./client";
import type { Alert, AlertStatus } from "./types";

/** Alerts the wall shows: not yet resolved, and resolved ones still firing; every page. */
export async function listOpenAlerts(query: { device_id?: string } = {}): Promise<Alert[]> {
  const out: Alert[] = [];
  const wanted = [{ status: "open" }, { status: "in_progress" }, { status: "resolved", state: "firing" }];
  for (const filter of wanted) {
    let cursor: string | undefined;
    do {
      const { data, error, response } = await http.GET("/api/alerts", {
        params: { query: { ...query, ...filter, limit: 1000, cursor } },
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
