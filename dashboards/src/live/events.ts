// The typed union of what `/ws/noc` sends (docs/api.md), and a parser that keeps only what it
// recognises: an unknown or malformed frame is dropped, never thrown into the render loop.
import type { Alert, Health, SlaStep, Ticket } from "../api/types";

export type NocEvent =
  | { type: "alert"; event: "opened" | "updated" | "cleared" | "resolved"; alert: Alert }
  | { type: "device"; event: "health"; device_id: string; tenant_id?: string; health: Health }
  | { type: "device"; event: "online" | "offline"; device_id: string; tenant_id?: string }
  | { type: "ticket"; event: "created" | "updated"; ticket: Ticket }
  /** An SLA step: the ticket with its clocks, and the step that fired. */
  | { type: "ticket"; event: "sla_warning" | "sla_breached"; ticket: Ticket; sla: SlaStep }
  | { type: "metrics"; device_id: string; ts: string; values: Record<string, number> };

export type ControlMessage =
  | { type: "ready"; session_id?: string }
  | { type: "renewed"; expires_at: string | null }
  | { type: "subscribed"; device_ids: string[] }
  | { type: "error"; message?: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

export function parseFrame(text: string): NocEvent | ControlMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(v) || typeof v.type !== "string") return null;
  switch (v.type) {
    case "alert":
      return isObject(v.alert) && typeof v.alert.id === "string" ? (v as NocEvent) : null;
    case "ticket":
      return isObject(v.ticket) && typeof v.ticket.id === "string" ? (v as NocEvent) : null;
    case "device":
      return typeof v.device_id === "string" && typeof v.event === "string" ? (v as NocEvent) : null;
    case "metrics":
      return typeof v.device_id === "string" && isObject(v.values) ? (v as NocEvent) : null;
    case "ready":
    case "renewed":
    case "subscribed":
    case "error":
      return v as ControlMessage;
    default:
      return null;
  }
}

export const isControl = (m: NocEvent | ControlMessage): m is ControlMessage =>
  m.type === "ready" || m.type === "renewed" || m.type === "subscribed" || m.type === "error";
