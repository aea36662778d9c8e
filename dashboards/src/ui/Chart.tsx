// A uPlot canvas chart of one series. `data` is columnar ([xs in seconds], [ys]); appending a
// live point replaces the data in place (uPlot redraws one canvas, no DOM per point).
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import { formatAxis, formatNumber } from "../i18n/format";

export type Columns = [number[], number[]];

/** `window` is the time range shown ([from, to] in seconds), fixed so that sparse data does not
 * stretch the axis over years. */
export function Chart(props: {
  title: string;
  data: Columns;
  zone: string;
  window: [number, number];
  height?: number;
  /** Marked on the element with the time of the last draw (the benchmark reads it). */
  range?: string;
  /** False while history loads: a draw then (empty, or the previous range's points) is not the
   * chart. */
  loaded?: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const windowRef = useRef(props.window);
  const loadedRef = useRef(props.loaded ?? true);
  loadedRef.current = props.loaded ?? true;
  windowRef.current = props.window;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      title: props.title,
      width: el.clientWidth || 600,
      height: props.height ?? 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), props.zone),
      scales: { x: { time: true, range: () => windowRef.current } },
      series: [{ label: "Hora" }, { label: props.title, stroke: "#4fc3f7", width: 2, fill: "rgba(79,195,247,0.12)", value: (_u, v) => (v == null ? "—" : formatNumber(v)) }],
      axes: [
        {
          stroke: "#9aa4b2",
          grid: { stroke: "#2a3140" },
          space: 70,
          values: (_u, splits) => {
            const [from, to] = windowRef.current;
            return splits.map((s) => formatAxis(s * 1000, props.zone, to - from));
          },
        },
        { stroke: "#9aa4b2", grid: { stroke: "#2a3140" }, values: (_u, vals) => vals.map((v) => formatNumber(v)) },
      ],
      legend: { show: true },
      hooks: {
        draw: [
          (u) => {
            if (loadedRef.current) {
              el.setAttribute("data-drawn", String(performance.now()));
              el.setAttribute("data-points", String(u.data[0].length));
            }
          },
        ],
      },
    };
    plot.current = new uPlot(opts, props.data, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height: props.height ?? 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [props.title, props.zone]);
  // A new range is not drawn until its data is (the chart keeps the old points meanwhile).
  useLayoutEffect(() => {
    box.current?.removeAttribute("data-drawn");
  }, [props.range]);
  // In the same commit as `loaded` (a layout effect): a draw in between (a resize, say) would
  // otherwise mark the new range drawn with the previous range's points.
  useLayoutEffect(() => {
    plot.current?.setData(props.data);
  }, [props.data]);
  return <div ref={box} class="chart" data-testid="chart" data-range={props.range} />;
}
