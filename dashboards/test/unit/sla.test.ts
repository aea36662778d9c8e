import { describe, expect, it } from "vitest";
import type { SlaStep, Ticket } from "../../src/api/types";
import { formatMinutes, slaCell, slaStepText, slaSummary } from "../../src/features/tickets/sla";

const base = {
  id: "t", number: "TKT-000001", tenant_id: "a", site_id: "s", device_id: null, alert_id: null,
  source: "portal", subject: "Sin internet", description: "", priority: "critical", category: null,
  status: "new", assigned_to: null, response_due_at: null, resolution_due_at: null,
  created_at: "2026-12-07T15:00:00Z",
} as Ticket;

describe("SLA cells", () => {
  it("formats business minutes", () => {
    expect(formatMinutes(45)).toBe("45 min");
    expect(formatMinutes(200)).toBe("3 h 20 min");
    expect(formatMinutes(-120)).toBe("2 h");
    expect(formatMinutes(3120)).toBe("2 d 4 h");
  });

  it("shows the response clock until the ticket is taken, then resolution", () => {
    const t = { ...base, response_remaining_min: 25, resolution_remaining_min: 230 };
    expect(slaCell(t)).toEqual({ text: "Respuesta: 25 min", tone: "soon" });
    expect(slaCell({ ...t, status: "in_progress" })).toEqual({ text: "Resolución: 3 h 50 min", tone: "ok" });
  });

  it("marks breaches, pauses and ended tickets", () => {
    expect(slaCell({ ...base, response_remaining_min: -15 })).toEqual({
      text: "Respuesta: vencido hace 15 min",
      tone: "breached",
    });
    expect(slaCell({ ...base, sla_paused: true, response_remaining_min: 5 }).tone).toBe("paused");
    expect(slaCell({ ...base, status: "closed", resolution_remaining_min: -5 }).tone).toBe("none");
    expect(slaCell(base).text).toBe("—");
  });

  it("names escalation steps in Spanish", () => {
    const step: SlaStep = { clock: "resolution", step: "reminder", seq: 2, priority: "high", target_min: 480,
      used_min: 600, due_at: null, fired_at: "2026-12-07T15:00:00Z", notify: [] };
    expect(slaStepText(step)).toBe("Resolución · Recordatorio 2");
    expect(slaStepText({ ...step, clock: "response", step: "breached", seq: 0 })).toBe("Respuesta · Incumplido");
  });
});

describe("SLA summary", () => {
  it("shows shares, breaches and the mean resolution", () => {
    const rows = slaSummary({
      tickets: 40,
      escalations: 6,
      response: { met_pct: 91.7, breached: 2, mean_min: 18 },
      resolution: { met_pct: null, breached: 4, mean_min: 200 },
    });
    expect(rows).toEqual([
      ["Tickets (30 días)", "40"],
      ["Respuesta a tiempo", "92 %"],
      ["Resolución a tiempo", "—"],
      ["Incumplidos", "respuesta 2 · resolución 4"],
      ["Resolución promedio", "3 h 20 min"],
    ]);
  });
});
