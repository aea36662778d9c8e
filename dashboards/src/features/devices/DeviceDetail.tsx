import { computed } from "@preact/signals";
import { useEffect, useMemo, useState } from "preact/hooks";
import { deviceSeries, getDevice, metricHistory } from "../../api/devices";
import type { Alert, Device, SeriesInfo } from "../../api/types";
import { t } from "../../i18n/es-MX";
import { formatDateTime, formatMetric } from "../../i18n/format";
import { noc } from "../../live/instance";
import { timeZone } from "../../state/session";
import { metricListeners, wall } from "../../state/store";
import { light, sortAlerts } from "../../state/wall";
import { Chart, type Columns } from "../../ui/Chart";
import { AlertList } from "../wall/AlertList";
import { RouterPanel } from "./RouterPanel";
import { appendPoint, chartSeries, RANGE_BUCKET, RANGE_MS, type Range } from "./series";

export function DeviceDetail({ id }: { id: string }) {
  const [device, setDevice] = useState<Device | null>(null);
  // `null` until the device's series are known: the charts wait for them (the defaults drawn
  // meanwhile would appear and vanish).
  const [known, setSeries] = useState<SeriesInfo[] | null>(null);
  const series = known ?? [];
  const [missing, setMissing] = useState(false);
  const [range, setRange] = useState<Range>("24h");
  useEffect(() => {
    void getDevice(id).then(setDevice).catch(() => setMissing(true));
    setSeries(null);
    void deviceSeries(id)
      .catch((): SeriesInfo[] => [])
      .then(setSeries);
  }, [id]);
  // Only this device's entry and alerts: the wall changes every frame under a busy fleet, and a
  // page that re-rendered with it would compete with its own charts for the main thread.
  const live = useMemo(() => computed(() => wall.value.devices.get(id)), [id]).value;
  const alerts = useDeviceAlerts(id);
  const d = live ? { ...device, ...live } : device;
  if (missing) return <p class="empty">{t("notFound")}</p>;
  if (!d) return <p class="empty">{t("loading")}</p>;
  const zone = timeZone.value;
  return (
    <div class="detail">
      <a href="#/">{t("back")}</a>
      <h1 class={`light-${light(d)}`}>
        <span class="dot" /> {d.name}
      </h1>
      <p class="muted">
        {d.kind === "routeros" ? t("router") : t("agent")} · {d.online ? t("online") : t("offline")}
        {d.last_seen_at && ` · ${t("lastSeen")}: ${formatDateTime(d.last_seen_at, zone)}`}
      </p>
      <section class="panel">
        <div class="panel-head">
          <h2>{t("charts")}</h2>
          <div class="segmented">
            {(Object.keys(RANGE_MS) as Range[]).map((r) => (
              <button key={r} class={r === range ? "active" : ""} onClick={() => setRange(r)}>{r}</button>
            ))}
          </div>
        </div>
        <div class="charts">
          {known && chartSeries(known).map((name) => (
            <LiveChart key={name} deviceId={id} name={name} range={range} zone={zone} />
          ))}
        </div>
      </section>
      <div class="detail-grid">
        <section class="panel">
          <h2>{t("series")}</h2>
          {series.length === 0 ? (
            <p class="empty">{t("noData")}</p>
          ) : (
            <table>
              <tbody>
                {series.map((s) => (
                  <tr key={s.name}>
                    <td>{s.name}</td>
                    <td class="num">{formatMetric(s.name, s.value)}</td>
                    <td class="muted">{formatDateTime(s.ts, zone)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section class="panel">
          <h2>{t("inventory")}</h2>
          {d.inventory ? <pre class="inventory">{JSON.stringify(d.inventory, null, 2)}</pre> : <p class="empty">{t("noData")}</p>}
        </section>
        <section class="panel">
          <h2>{t("alerts")}</h2>
          <AlertList alerts={alerts} />
        </section>
      </div>
      {d.kind === "routeros" && <RouterPanel device={d as Device} series={series} />}
    </div>
  );
}

/** The device's open alerts, critical first; the same array while they do not change (a
 * computed per device id: `useComputed` would keep reading the first id's). */
function useDeviceAlerts(id: string): Alert[] {
  return useMemo(() => {
    let last: Alert[] = [];
    return computed(() => {
      const mine = sortAlerts([...wall.value.alerts.values()].filter((a) => a.device_id === id));
      if (mine.length === last.length && mine.every((a, i) => a === last[i])) return last;
      return (last = mine);
    });
  }, [id]).value;
}

/** History from REST buckets, then live points from the socket's metrics events. A range change
 * keeps the chart and its points on screen until the new range's history arrives, then swaps
 * data and window in one draw. */
function LiveChart(props: { deviceId: string; name: string; range: Range; zone: string }) {
  const [data, setData] = useState<Columns>([[], []]);
  // The range whose history is on the chart (a range change is loading until it equals it).
  const [loadedRange, setLoadedRange] = useState<Range | null>(null);
  const [window, setWindow] = useState<[number, number]>(() => {
    const to = Date.now() / 1000;
    return [to - RANGE_MS[props.range] / 1000, to];
  });
  useEffect(() => {
    const to = new Date();
    const from = new Date(to.getTime() - RANGE_MS[props.range]);
    let cols: Columns = [[], []];
    let loaded = false;
    const pending: [number, number][] = [];
    const listener = (e: { device_id: string; ts: string; values: Record<string, number> }) => {
      const v = e.values[props.name];
      if (e.device_id !== props.deviceId || typeof v !== "number") return;
      const ts = new Date(e.ts).getTime() / 1000;
      if (!loaded) pending.push([ts, v]);
      else {
        setData((cols = appendPoint(cols, ts, v)));
        // The window slides with live points.
        setWindow(([from, to]) => (ts > to ? [from + (ts - to), ts] : [from, to]));
      }
    };
    let live = true;
    metricListeners.add(listener);
    noc()?.watch([props.deviceId]);
    void metricHistory(props.deviceId, props.name, from, to, RANGE_BUCKET[props.range])
      .then((points) => {
        cols = [points.map((p) => Date.parse(p.ts) / 1000), points.map((p) => p.value)];
      })
      .catch(() => undefined)
      .finally(() => {
        if (!live) return;
        loaded = true;
        for (const [ts, v] of pending) cols = appendPoint(cols, ts, v);
        const last = cols[0][cols[0].length - 1];
        const end = Math.max(to.getTime() / 1000, last ?? 0);
        setWindow([end - RANGE_MS[props.range] / 1000, end]);
        setLoadedRange(props.range);
        setData(cols);
      });
    return () => {
      live = false;
      metricListeners.delete(listener);
      noc()?.watch([]);
    };
  }, [props.deviceId, props.name, props.range]);
  return (
    <Chart title={props.name} data={data} zone={props.zone} window={window} range={props.range} loaded={loadedRange === props.range} />
  );
}
