// Dates and numbers via Intl, es-MX, in the tenant's time zone (staff without a tenant: Mexico
// City), on the 24-hour clock a NOC reads at a glance. Formatters are built once per zone: Intl constructors are slow and the wall formats a lot.
export const DEFAULT_TIME_ZONE = "America/Mexico_City";
const LOCALE = "es-MX";

const cache = new Map<string, Intl.DateTimeFormat>();
function dateFormat(zone: string, kind: "datetime" | "time"): Intl.DateTimeFormat {
  const key = `${zone}|${kind}`;
  let f = cache.get(key);
  if (!f) {
    f =
      kind === "datetime"
        ? new Intl.DateTimeFormat(LOCALE, { timeZone: zone, dateStyle: "short", timeStyle: "medium", hourCycle: "h23" })
        : new Intl.DateTimeFormat(LOCALE, { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    cache.set(key, f);
  }
  return f;
}

export function formatDateTime(iso: string | number | Date, zone = DEFAULT_TIME_ZONE): string {
  return dateFormat(zone, "datetime").format(new Date(iso));
}

export function formatTime(iso: string | number | Date, zone = DEFAULT_TIME_ZONE): string {
  return dateFormat(zone, "time").format(new Date(iso));
}

const numbers = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });
const integers = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
export const formatNumber = (n: number) => numbers.format(n);
export const formatCount = (n: number) => integers.format(n);

const relative = new Intl.RelativeTimeFormat(LOCALE, { numeric: "auto", style: "long" });
/** "hace 3 minutos", from the shared clock's `now`. */
export function formatAgo(iso: string, now: number): string {
  // The shared clock ticks every 15 s and server clocks differ a little: never "dentro de".
  const seconds = Math.min(0, Math.round((new Date(iso).getTime() - now) / 1000));
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

const plurals = new Intl.PluralRules(LOCALE);
/** `plural(3, "alerta", "alertas")` → "3 alertas". */
export function plural(n: number, one: string, other: string): string {
  return `${formatCount(n)} ${plurals.select(n) === "one" ? one : other}`;
}

/** A metric value with its unit guessed from the name's suffix. */
export function formatMetric(name: string, value: number): string {
  if (name.endsWith("_pct")) return `${formatNumber(value)} %`;
  if (name.endsWith("_ms")) return `${formatNumber(value)} ms`;
  if (name.endsWith("_bps")) return `${formatNumber(value / 1e6)} Mb/s`;
  return formatNumber(value);
}

const axisCache = new Map<string, Intl.DateTimeFormat>();
/** A chart axis label: the hour for ranges up to two days, the day and month beyond. */
export function formatAxis(ms: number, zone: string, spanSeconds: number): string {
  const long = spanSeconds > 2 * 86400;
  const key = `${zone}|${long}`;
  let f = axisCache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(
      LOCALE,
      long
        ? { timeZone: zone, day: "numeric", month: "short" }
        : { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
    );
    axisCache.set(key, f);
  }
  return f.format(new Date(ms));
}
