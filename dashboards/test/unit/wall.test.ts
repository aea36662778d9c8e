import { describe, expect, it } from "vitest";
import { parseFrame, type NocEvent } from "../../src/live/events";
import { applyEvents, kpis, light, resolvedButFiring, snapshot, sortAlerts } from "../../src/state/wall";
import { alert, device, frames, ticket } from "../fixtures/noc";

const ev = (text: string) => parseFrame(text) as NocEvent;

describe("applyEvents", () => {
  it("adds an opened alert and moves the device to red, then grey when offline", () => {
    const s0 = snapshot([device("d1")], [], []);
    const s1 = applyEvents(s0, [ev(frames.opened), ev(frames.health)]);
    expect(s1.alerts.get("a1")?.title).toBe("Crítico: cpu.usage_pct > 90 en PC-Recepción");
    expect(light(s1.devices.get("d1")!)).toBe("red");
    const s2 = applyEvents(s1, [ev(frames.offline)]);
    expect(light(s2.devices.get("d1")!)).toBe("grey");
    expect(s0.alerts.size).toBe(0); // the input state is untouched
  });

  it("marks a device online when a threshold alert opens from its telemetry", () => {
    const s0 = snapshot([device("d1", { online: false })], [], []);
    const s1 = applyEvents(s0, [ev(frames.opened)]);
    expect(s1.devices.get("d1")?.online).toBe(true);
    const s2 = applyEvents(snapshot([device("d1", { online: false })], [], []), [
      { type: "alert", event: "opened", alert: alert("r1", { key: "router.offline", threshold_id: null }) },
    ]);
    expect(s2.devices.get("d1")?.online).toBe(false);
  });

  it("drops a resolved alert and keeps a cleared one until resolved", () => {
    const s0 = snapshot([], [alert("a1")], []);
    const cleared = applyEvents(s0, [{ type: "alert", event: "cleared", alert: alert("a1", { state: "cleared", updated_at: "2026-12-02T21:20:00Z" }) }]);
    expect(cleared.alerts.get("a1")?.state).toBe("cleared");
    const resolved = applyEvents(cleared, [{ type: "alert", event: "resolved", alert: alert("a1", { state: "cleared", status: "resolved", updated_at: "2026-12-02T21:21:00Z" }) }]);
    expect(resolved.alerts.has("a1")).toBe(false);
  });

  it("keeps an alert resolved while still firing, marked and out of the KPI count", () => {
    const s0 = snapshot([], [alert("a1")], []);
    const s1 = applyEvents(s0, [{ type: "alert", event: "resolved", alert: alert("a1", { status: "resolved", updated_at: "2026-12-02T21:21:00Z" }) }]);
    const kept = s1.alerts.get("a1");
    expect(kept && resolvedButFiring(kept)).toBe(true);
    expect(kpis(s1, Date.parse("2026-12-02T22:00:00Z")).alerts).toEqual({ critical: 0, warning: 0 });
    const s2 = applyEvents(s1, [{ type: "alert", event: "cleared", alert: alert("a1", { state: "cleared", status: "resolved", updated_at: "2026-12-02T21:22:00Z" }) }]);
    expect(s2.alerts.has("a1")).toBe(false);
  });

  it("never lets an older copy of an alert overwrite a newer one", () => {
    const s0 = snapshot([], [alert("a1", { status: "in_progress", updated_at: "2026-12-02T21:30:00Z" })], []);
    const s1 = applyEvents(s0, [{ type: "alert", event: "updated", alert: alert("a1", { updated_at: "2026-12-02T21:20:00Z" }) }]);
    expect(s1.alerts.get("a1")?.status).toBe("in_progress");
  });

  it("ignores device events for devices outside the filter and returns the same state", () => {
    const s0 = snapshot([device("d2")], [], []);
    expect(applyEvents(s0, [ev(frames.health)])).toBe(s0);
  });

  it("upserts tickets", () => {
    const s0 = snapshot([], [], [ticket("1")]);
    const s1 = applyEvents(s0, [{ type: "ticket", event: "updated", ticket: ticket("1", { status: "resolved" }) }]);
    expect(s1.tickets.get("1")?.status).toBe("resolved");
  });
});

describe("views", () => {
  it("sorts firing before cleared, critical before warning, newest first", () => {
    const sorted = sortAlerts([
      alert("old-crit", { opened_at: "2026-12-01T00:00:00Z" }),
      alert("warn", { severity: "warning", opened_at: "2026-12-02T23:00:00Z" }),
      alert("cleared", { state: "cleared", opened_at: "2026-12-02T23:59:00Z" }),
      alert("new-crit", { opened_at: "2026-12-02T00:00:00Z" }),
    ]);
    expect(sorted.map((a) => a.id)).toEqual(["new-crit", "old-crit", "warn", "cleared"]);
  });

  it("counts the KPI tiles", () => {
    const now = Date.parse("2026-12-02T22:00:00Z");
    const s = snapshot(
      [device("a"), device("b", { health: "yellow" }), device("c", { health: "red" }), device("d", { online: false })],
      [alert("1"), alert("2", { severity: "warning" }), alert("3", { status: "resolved" })],
      [
        ticket("1", { resolution_due_at: "2026-12-02T21:00:00Z" }),
        ticket("2", { resolution_due_at: "2026-12-03T21:00:00Z" }),
        ticket("3", { status: "closed", resolution_due_at: "2026-12-01T21:00:00Z" }),
      ],
    );
    expect(kpis(s, now)).toEqual({
      devices: { green: 1, yellow: 1, red: 1, grey: 1 },
      total: 4,
      alerts: { critical: 1, warning: 1 },
      ticketsOpen: 2,
      ticketsOverdue: 1,
    });
  });
});

describe("parseFrame", () => {
  it("recognises events and control messages and drops garbage", () => {
    expect(parseFrame(frames.metrics)).toMatchObject({ type: "metrics", values: { "cpu.usage_pct": 95.5 } });
    expect(parseFrame(frames.ready)).toMatchObject({ type: "ready" });
    expect(parseFrame("no es json")).toBeNull();
    expect(parseFrame('{"type":"alert","event":"opened"}')).toBeNull();
    expect(parseFrame('{"type":"desconocido"}')).toBeNull();
  });
});
