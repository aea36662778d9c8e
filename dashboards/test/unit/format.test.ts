import { describe, expect, it } from "vitest";
import { appendPoint, chartSeries, interfacesOf } from "../../src/features/devices/series";
import { categoryOptions, splitEmails } from "../../src/features/tickets/categories";
import { TICKET_MOVES, movesFor } from "../../src/features/tickets/moves";
import { formatAgo, formatAxis, formatDateTime, formatMetric, formatNumber, plural } from "../../src/i18n/format";

describe("es-MX formatters", () => {
  it("formats numbers with the Mexican separators", () => {
    expect(formatNumber(12345.67)).toBe("12,345.7");
    expect(formatMetric("cpu.usage_pct", 93.46)).toBe("93.5 %");
  });

  it("formats dates in the tenant's time zone", () => {
    // 21:17 UTC is 15:17 in Mexico City (UTC-6, no DST since 2022) and 13:17 in Tijuana (PST).
    expect(formatDateTime("2026-12-02T21:17:53Z", "America/Mexico_City")).toMatch(/^02\/12\/26,? 15:17:53/);
    expect(formatDateTime("2026-12-02T21:17:53Z", "America/Tijuana")).toMatch(/13:17:53/);
  });

  it("labels chart axes on the 24-hour clock, or by day past two days", () => {
    const ms = Date.parse("2026-12-02T21:00:00Z");
    expect(formatAxis(ms, "America/Mexico_City", 86400)).toBe("15:00");
    expect(formatAxis(ms, "America/Mexico_City", 30 * 86400)).toMatch(/^2 dic/);
  });

  it("says how long ago in Spanish", () => {
    const now = Date.parse("2026-12-02T21:20:00Z");
    expect(formatAgo("2026-12-02T21:17:00Z", now)).toBe("hace 3 minutos");
    expect(formatAgo("2026-12-02T19:20:00Z", now)).toBe("hace 2 horas");
    expect(formatAgo("2026-12-02T21:20:01Z", now)).toBe("ahora");
  });

  it("pluralises", () => {
    expect(plural(1, "alerta", "alertas")).toBe("1 alerta");
    expect(plural(1500, "alerta", "alertas")).toBe("1,500 alertas");
  });
});

describe("device series helpers", () => {
  const s = (name: string) => ({ name, value: 1, ts: "2026-12-02T21:00:00Z" });
  it("charts the known series first", () => {
    expect(chartSeries([s("net.rx_bps"), s("mem.used_pct"), s("cpu.usage_pct")])).toEqual([
      "cpu.usage_pct",
      "mem.used_pct",
      "net.rx_bps",
    ]);
    expect(chartSeries([])).toEqual(["cpu.usage_pct", "mem.used_pct", "disk.used_pct"]);
  });

  it("groups a router's interfaces from labelled series", () => {
    const m = interfacesOf([s("if.rx_bps{if=ether1}"), s("if.tx_bps{if=ether1}"), s("pppoe.up{if=pppoe-out1,x=1}"), s("cpu.usage_pct")]);
    expect([...m.keys()]).toEqual(["ether1", "pppoe-out1"]);
    expect(m.get("ether1")).toHaveLength(2);
  });

  it("appends live points in order and caps them", () => {
    let cols: [number[], number[]] = [[1, 2], [10, 20]];
    cols = appendPoint(cols, 2, 99);
    expect(cols).toEqual([[1, 2], [10, 20]]);
    cols = appendPoint(cols, 3, 30, 2);
    expect(cols).toEqual([[2, 3], [20, 30]]);
  });
});

describe("ticket moves", () => {
  it("follow the contract's state machine", () => {
    expect(TICKET_MOVES.new).toEqual(["assigned", "in_progress", "pending_approval", "cancelled"]);
    expect(TICKET_MOVES.pending_approval).toEqual(["assigned", "cancelled"]);
    expect(TICKET_MOVES.assigned).toEqual(["in_progress", "cancelled"]);
    expect(TICKET_MOVES.resolved).toEqual(["closed", "reopened"]);
    expect(TICKET_MOVES.closed).toEqual([]);
    expect(TICKET_MOVES.cancelled).toEqual([]);
  });

  it("offer each role only the moves it may make", () => {
    expect(movesFor("in_progress", "technician", false)).toEqual(["waiting_customer", "resolved"]);
    expect(movesFor("pending_approval", "client_admin", false)).toEqual(["assigned", "cancelled"]);
    expect(movesFor("new", "client_admin", false)).toEqual(["cancelled"]);
    expect(movesFor("in_progress", "client_admin", false)).toEqual([]);
    expect(movesFor("new", "requester", true)).toEqual(["cancelled"]);
    expect(movesFor("new", "requester", false)).toEqual([]);
    expect(movesFor("pending_approval", "requester", true)).toEqual([]);
  });
});

describe("ticket form helpers", () => {
  it("lists categories parent first, subcategories as Padre / Hija, approval inherited", () => {
    const rows = [
      { id: "2", name: "Software", parent_id: null, requires_approval: false },
      { id: "3", name: "Licencias", parent_id: "2", requires_approval: false },
      { id: "1", name: "Accesos", parent_id: null, requires_approval: true },
      { id: "4", name: "Alta de usuario", parent_id: "1", requires_approval: false },
    ];
    expect(categoryOptions(rows)).toEqual([
      { id: "1", label: "Accesos", approval: true },
      { id: "4", label: "Accesos / Alta de usuario", approval: true },
      { id: "2", label: "Software", approval: false },
      { id: "3", label: "Software / Licencias", approval: false },
    ]);
  });

  it("splits additional e-mails on commas, semicolons and spaces", () => {
    expect(splitEmails(" jefa@clínica.mx, compras@x.mx;  ti@x.mx ")).toEqual(["jefa@clínica.mx", "compras@x.mx", "ti@x.mx"]);
    expect(splitEmails("   ")).toEqual([]);
  });
});
