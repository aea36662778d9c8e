// What the ticket views show of a ticket's SLA clocks: the clock that matters now (response
// until the first answer, then resolution), its business minutes left, and a tone.
import type { SlaStep, Ticket } from "../../api/types";

export type SlaTone = "ok" | "soon" | "breached" | "paused" | "none";

export interface SlaCell {
  text: string;
  tone: SlaTone;
}

/** Statuses whose response clock still runs (nobody has taken the ticket yet). */
const AWAITING_ANSWER = new Set(["new", "pending_approval", "assigned"]);
const ENDED = new Set(["resolved", "closed", "cancelled"]);

/** "45 min", "3 h 20 min", "2 d 4 h" (business time). */
export function formatMinutes(total: number): string {
  const m = Math.abs(Math.round(total));
  if (m < 60) return `${m} min`;
  const days = Math.floor(m / 1440);
  const hours = Math.floor((m % 1440) / 60);
  const minutes = m % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
}

/** The SLA cell of a ticket list row. Within an hour of the target counts as "soon". */
export function slaCell(ticket: Ticket): SlaCell {
  if (ENDED.has(ticket.status)) return { text: "—", tone: "none" };
  if (ticket.sla_paused) return { text: "En pausa", tone: "paused" };
  const response = AWAITING_ANSWER.has(ticket.status);
  const left = response ? ticket.response_remaining_min : ticket.resolution_remaining_min;
  if (left == null) return { text: "—", tone: "none" };
  const which = response ? "Respuesta" : "Resolución";
  if (left < 0) return { text: `${which}: vencido hace ${formatMinutes(left)}`, tone: "breached" };
  return { text: `${which}: ${formatMinutes(left)}`, tone: left <= 60 ? "soon" : "ok" };
}

const STEP_WORD: Record<SlaStep["step"], string> = {
  warning: "Aviso (75 %)",
  breached: "Incumplido",
  reminder: "Recordatorio",
};

/** "Respuesta · Incumplido", "Resolución · Recordatorio 2". */
export function slaStepText(step: SlaStep): string {
  const clock = step.clock === "response" ? "Respuesta" : "Resolución";
  const word = step.step === "reminder" ? `${STEP_WORD.reminder} ${step.seq}` : STEP_WORD[step.step];
  return `${clock} · ${word}`;
}

/** The numbers a summary strip shows (from `GET /api/sla/metrics`). */
export interface SlaNumbers {
  tickets: number;
  escalations: number;
  response: { met_pct?: number | null; breached: number; mean_min?: number | null };
  resolution: { met_pct?: number | null; breached: number; mean_min?: number | null };
}

/** "Respuesta a tiempo 92 %", … as label/value pairs, in the strip's order. */
export function slaSummary(n: SlaNumbers): [string, string][] {
  const pct = (v?: number | null) => (v == null ? "—" : `${Math.round(v)} %`);
  const mins = (v?: number | null) => (v == null ? "—" : formatMinutes(v));
  return [
    ["Tickets (30 días)", String(n.tickets)],
    ["Respuesta a tiempo", pct(n.response.met_pct)],
    ["Resolución a tiempo", pct(n.resolution.met_pct)],
    // Per clock: one ticket can miss both, so a sum would read as more tickets than there are.
    ["Incumplidos", `respuesta ${n.response.breached} · resolución ${n.resolution.breached}`],
    ["Resolución promedio", mins(n.resolution.mean_min)],
  ];
}
