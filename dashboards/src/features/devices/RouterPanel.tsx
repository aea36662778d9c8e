import { useEffect, useState } from "preact/hooks";
import { deviceLogs, downloadLogsCsv } from "../../api/devices";
import type { Device, LogLine, SeriesInfo } from "../../api/types";
import { t } from "../../i18n/es-MX";
import { formatDateTime, formatMetric } from "../../i18n/format";
import { timeZone } from "../../state/session";
import { interfacesOf } from "./series";

const LINE_CHOICES = [5, 10, 20] as const;

/** A router's interfaces (from its labelled series) and its log lines with CSV export. */
export function RouterPanel({ device, series }: { device: Device; series: SeriesInfo[] }) {
  const [lines, setLines] = useState<number>(10);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [logs, setLogs] = useState<LogLine[]>([]);
  const zone = timeZone.value;
  const range = () => [from ? new Date(from) : undefined, to ? new Date(to) : undefined] as const;
  useEffect(() => {
    const [f, tt] = range();
    void deviceLogs(device.id, lines, f, tt).then(setLogs).catch(() => setLogs([]));
  }, [device.id, lines, from, to]);
  const interfaces = interfacesOf(series);
  return (
    <div class="detail-grid">
      <section class="panel">
        <h2>{t("interfaces")}</h2>
        {interfaces.size === 0 ? (
          <p class="empty">{t("noData")}</p>
        ) : (
          <table>
            <tbody>
              {[...interfaces].map(([name, values]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>{values.map((v) => `${v.name.split("{")[0]}: ${formatMetric(v.name.split("{")[0] ?? v.name, v.value)}`).join(" · ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="panel logs">
        <div class="panel-head">
          <h2>{t("logs")}</h2>
          <div class="segmented">
            {LINE_CHOICES.map((n) => (
              <button key={n} class={n === lines ? "active" : ""} onClick={() => setLines(n)}>
                {n} {t("lines")}
              </button>
            ))}
          </div>
          <label>
            {t("from")} <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
          </label>
          <label>
            {t("to")} <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
          </label>
          <button
            onClick={() => {
              const [f, tt] = range();
              void downloadLogsCsv(device.id, f, tt).then((blob) => {
                const a = document.createElement("a");
                a.href = URL.createObjectURL(blob);
                a.download = `registros-${device.name}.csv`;
                a.click();
                URL.revokeObjectURL(a.href);
              });
            }}
          >
            {t("exportCsv")}
          </button>
        </div>
        {logs.length === 0 ? (
          <p class="empty">{t("noData")}</p>
        ) : (
          <table data-testid="router-logs">
            <tbody>
              {logs.map((l, i) => (
                <tr key={`${l.ts}-${i}`}>
                  <td class="muted nowrap">{formatDateTime(l.ts, zone)}</td>
                  <td>{l.source}</td>
                  <td>{l.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
