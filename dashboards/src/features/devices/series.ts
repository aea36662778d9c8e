// Pure helpers for the device page: which series to chart, the bucket for a range, and merging
// a live metrics event into a chart's columns.
import type { SeriesInfo } from "../../api/types";
import type { Columns } from "../../ui/Chart";

export const DEFAULT_SERIES = ["cpu.usage_pct", "mem.used_pct", "disk.used_pct"];

export type Range = "1h" | "24h" | "7d" | "30d";
export const RANGE_MS: Record<Range, number> = { "1h": 3.6e6, "24h": 8.64e7, "7d": 6.048e8, "30d": 2.592e9 };
export const RANGE_BUCKET: Record<Range, "30s" | "1m" | "5m" | "1h"> = { "1h": "30s", "24h": "5m", "7d": "1h", "30d": "1h" };

/** The series to chart: the known ones first, then others, at most `max`. */
export function chartSeries(series: SeriesInfo[], max = 4): string[] {
  const names = series.map((s) => s.name);
  if (names.length === 0) return DEFAULT_SERIES.slice(0, max);
  const known = DEFAULT_SERIES.filter((n) => names.includes(n));
  return [...known, ...names.filter((n) => !known.includes(n))].slice(0, max);
}

/** Interfaces of a router, from labelled series such as `if.rx_bps{if=ether1}`. */
export function interfacesOf(series: SeriesInfo[]): Map<string, SeriesInfo[]> {
  const out = new Map<string, SeriesInfo[]>();
  for (const s of series) {
    const m = /\{(?:.*,)?if=([^,}]+)/.exec(s.name);
    if (!m?.[1]) continue;
    out.set(m[1], [...(out.get(m[1]) ?? []), s]);
  }
  return out;
}

/** Appends a point (seconds, value) unless older than the last; keeps at most `cap` points. */
export function appendPoint(cols: Columns, ts: number, value: number, cap = 5000): Columns {
  const [xs, ys] = cols;
  const last = xs[xs.length - 1];
  if (last !== undefined && ts <= last) return cols;
  const start = xs.length + 1 > cap ? xs.length + 1 - cap : 0;
  return [[...xs.slice(start), ts], [...ys.slice(start), value]];
}
