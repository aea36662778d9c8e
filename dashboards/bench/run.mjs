// Browser benchmark (issue 12 "Fast"): the wall in a real Chromium against the real engine with
// 2,000 simulated agents at one message per device per second and ~500 open alerts.
//   npm run bench            (needs target/debug|release/centinela and centinela-agent, DATABASE_URL)
// Measures: device grid first paint; frame times and long tasks across 60 s of live traffic;
// a 30-day chart at 1-hour buckets (p95 of 20 loads, with the history requests' share); an MQTT
// breach shown on the open page (median of 5). Prints one JSON line with every figure and the
// targets. Settings: BENCH_DEVICES (2000), BENCH_ALERT_DEVICES (500), BENCH_SECONDS (60).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  Api, createUser, freshDatabase, launchBrowser, loginAs, mqttCredentials, publishTelemetry, repoRoot, serveApp, startEngine,
} from "../test/e2e/harness.mjs";

const DEVICES = Number(process.env.BENCH_DEVICES ?? 2000);
const ALERT_DEVICES = Number(process.env.BENCH_ALERT_DEVICES ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const PASSWORD = "Contraseña-Bench-1ñ";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const log = (m) => console.error(`bench: ${m}`);

function agentBinary() {
  for (const p of [process.env.CENTINELA_AGENT_BIN, resolve(repoRoot, "target/release/centinela-agent"), resolve(repoRoot, "target/debug/centinela-agent")]) {
    if (p && existsSync(p)) return p;
  }
  throw new Error("no centinela-agent binary: cargo build -p centinela-agent");
}

function simulate(server, siteKey, devices) {
  const dir = mkdtempSync(join(tmpdir(), "centinela-sim-"));
  const child = spawn(agentBinary(), [
    "simulate", "--server", server, "--site-key", siteKey, "--devices", String(devices), "--interval", "1",
    "--state", join(dir, "state.json"), "--breach-pct", "1",
  ], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, CENTINELA_LOG: "warn" } });
  let err = "";
  child.stderr.on("data", (d) => (err = (err + d).slice(-4000)));
  return { child, err: () => err };
}

async function waitFor(what, check, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1000);
  }
}

async function countAll(api, path) {
  let n = 0;
  let cursor = "";
  do {
    const sep = path.includes("?") ? "&" : "?";
    const { body, headers } = await api.req("GET", `${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, undefined, 200);
    n += body.length;
    cursor = headers.get("x-next-cursor") ?? "";
  } while (cursor);
  return n;
}

/**
 * Thirty days of 5-minute CPU and memory history for one device (what `centinela demo` seeds),
 * written straight into PostgreSQL so the 30-day chart has a month to draw.
 */
function seedHistory(device, days) {
  const sql = `SELECT set_config('centinela.scope', '*', false);
    INSERT INTO metrics (ts, tenant_id, device_id, name, value)
    SELECT ts, '${device.tenant_id}', '${device.id}', m.name,
           CASE m.name WHEN 'cpu.usage_pct' THEN 35 + 25 * sin(extract(epoch FROM ts) / 43200) + random() * 10
                       ELSE 55 + 10 * cos(extract(epoch FROM ts) / 86400) + random() * 5 END
    FROM generate_series(now() - interval '${days} days', now() - interval '1 hour', interval '5 minutes') AS ts,
         (VALUES ('cpu.usage_pct'), ('mem.used_pct')) AS m(name);`;
  execFileSync("psql", [db, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], { stdio: "pipe" });
  log(`seeded ${days} days of history for ${device.name}`);
}

// Page instrumentation, installed before the app loads.
function instrument() {
  const w = window;
  w.__bench = { frames: [], longTasks: [], gridPaint: null, recording: false };
  const mo = new MutationObserver(() => {
    if (w.__bench.gridPaint === null && document.querySelector("[data-testid=device-tile]")) {
      w.__bench.gridPaint = performance.now();
    }
  });
  mo.observe(document, { childList: true, subtree: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (w.__bench.recording) w.__bench.longTasks.push(e.duration);
  }).observe({ type: "longtask", buffered: false });
  let last = performance.now();
  const tick = (t) => {
    if (w.__bench.recording) w.__bench.frames.push(t - last);
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

const started = Date.now();
const db = freshDatabase("dash_bench");
const engine = await startEngine(db, { CENTINELA_LOG: "error" });
const sims = [];
let browser;
let app;
try {
  createUser(db, { email: "root@bench.test", name: "Raíz Bench", role: "superadmin", password: PASSWORD });
  const api = await Api.login(engine.url, "root@bench.test", PASSWORD);
  const { body: tenant } = await api.req("POST", "/api/tenants", { name: "Corporativo Peñasco", plan: "pro" }, 201);
  const site = async (name) => (await api.req("POST", "/api/sites", { tenant_id: tenant.id, name, city: "Querétaro" }, 201)).body;
  const alerting = await site("Sede Alertas");
  const calm = await site("Sede Tranquila");
  // Every device of the alerting site is in breach all the time: a stable set of open alerts.
  await api.req("POST", "/api/thresholds", { scope: "site", scope_id: alerting.id, metric: "mem.used_pct", op: ">=", critical: 0, for_seconds: 0, auto_ticket: false }, 201);
  // The rest churns: CPU peaks (the simulator's 1 %) open warnings that clear on the next sample.
  await api.req("POST", "/api/thresholds", { scope: "site", scope_id: calm.id, metric: "cpu.usage_pct", op: ">", warning: 95, for_seconds: 0, auto_ticket: false }, 201);
  const { body: siteA } = await api.req("GET", `/api/sites/${alerting.id}`, undefined, 200);
  const { body: siteB } = await api.req("GET", `/api/sites/${calm.id}`, undefined, 200);
  // The probe device for breach latency, publishing through mosquitto_pub with its own threshold.
  const { body: probe } = await api.req("POST", "/api/devices", { tenant_id: tenant.id, site_id: calm.id, name: "Sonda-Latencia", kind: "agent" }, 201);
  await api.req("POST", "/api/thresholds", { scope: "device", scope_id: probe.device.id, metric: "bench.probe", op: ">", critical: 50, for_seconds: 0, auto_ticket: false }, 201);
  const creds = await mqttCredentials(engine.url, probe.device.device_key, probe.agent_token);

  sims.push(simulate(engine.url, siteA.site_key, ALERT_DEVICES), simulate(engine.url, siteB.site_key, DEVICES - ALERT_DEVICES));
  log(`enrolling ${DEVICES} simulated agents…`);
  await waitFor("devices", async () => (await countAll(api, "/api/devices")) >= DEVICES + 1, 600_000);
  await waitFor("open alerts", async () => (await countAll(api, "/api/alerts?state=firing&severity=critical")) >= ALERT_DEVICES, 300_000);
  const openAlerts = await countAll(api, "/api/alerts?status=open");
  log(`fleet up: ${DEVICES} devices, ${openAlerts} open alerts`);

  app = await serveApp(engine.url);
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: "es-MX" });
  await context.addInitScript(instrument);
  const page = await context.newPage();
  await loginAs(page, app.url, "root@bench.test", PASSWORD);

  // Grid first paint: a reload of the wall with the session kept (navigation start → first tile).
  const paints = [];
  for (let i = 0; i < 3; i++) {
    await page.reload();
    await page.getByTestId("device-tile").first().waitFor({ timeout: 30_000 });
    paints.push(await page.evaluate(() => window.__bench.gridPaint));
  }
  await page.getByText("En vivo").waitFor();

  // Frames and long tasks across SECONDS of live traffic.
  log(`recording ${SECONDS} s of frames…`);
  await page.evaluate(() => (window.__bench.recording = true));
  await sleep(SECONDS * 1000);
  const { frames, longTasks } = await page.evaluate(() => {
    window.__bench.recording = false;
    return { frames: window.__bench.frames, longTasks: window.__bench.longTasks };
  });

  // MQTT breach → row on the open page (median of 5).
  const breaches = [];
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    publishTelemetry(creds, { "bench.probe": 99 });
    await page.locator("[data-testid=alert-row]", { hasText: "bench.probe" }).first().waitFor({ timeout: 10_000 });
    breaches.push(Date.now() - t0);
    publishTelemetry(creds, { "bench.probe": 0 });
    const { body: open } = await api.req("GET", `/api/alerts?device_id=${probe.device.id}&status=open`, undefined, 200);
    for (const a of open) await api.req("PATCH", `/api/alerts/${a.id}/status`, { status: "resolved", comment: "Medición terminada." }, 200);
    await page.locator("[data-testid=alert-row]", { hasText: "bench.probe" }).waitFor({ state: "detached", timeout: 10_000 });
  }

  // 30-day chart at 1-hour buckets: click "30d" on a simulated device's page, until drawn.
  const { body: devices } = await api.req("GET", `/api/devices?limit=2`, undefined, 200);
  const target = devices.find((d) => d.id !== probe.device.id) ?? devices[0];
  seedHistory(target, 30);
  await page.goto(`${app.url}/#/dispositivos/${target.id}`);
  await page.locator(".chart canvas").first().waitFor({ timeout: 10_000 });
  const charts = [];
  const chartFetches = [];
  const chartWaits = [];
  for (let i = 0; i < 20; i++) {
    await page.getByRole("button", { name: "24h" }).click();
    await page.locator('.chart[data-range="24h"][data-drawn]').first().waitFor();
    const { ms, fetchMs, waitMs } = await page.evaluate(async () => {
      performance.clearResourceTimings();
      const t0 = performance.now();
      const button = [...document.querySelectorAll(".segmented button")].find((b) => b.textContent === "30d");
      button.click();
      for (;;) {
        const drawn = [...document.querySelectorAll('.chart[data-range="30d"]')];
        if (drawn.length && drawn.every((c) => c.hasAttribute("data-drawn"))) {
          // The history requests' share: click → last response end, and the longest server wait.
          const fetches = performance.getEntriesByType("resource").filter((e) => e.name.includes("bucket=1h"));
          return {
            ms: Math.max(...drawn.map((c) => Number(c.getAttribute("data-drawn")))) - t0,
            fetchMs: Math.max(0, ...fetches.map((e) => e.responseEnd - t0)),
            waitMs: Math.max(0, ...fetches.map((e) => e.responseStart - e.requestStart)),
          };
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    });
    charts.push(ms);
    chartFetches.push(fetchMs);
    chartWaits.push(waitMs);
  }
  const points = await page.evaluate(() => Number(document.querySelector('.chart[data-range="30d"]')?.getAttribute("data-points")));

  const result = {
    devices: DEVICES,
    open_alerts_at_start: openAlerts,
    seconds: SECONDS,
    grid_first_paint_ms: Math.round(Math.max(...paints)),
    frame_p95_ms: Number(pct(frames, 95).toFixed(1)),
    frames: frames.length,
    long_tasks_over_100ms: longTasks.filter((d) => d > 100).length,
    longest_task_ms: Math.round(Math.max(0, ...longTasks)),
    chart_30d_p95_ms: Math.round(pct(charts, 95)),
    chart_30d_points: points,
    chart_30d_fetch_p95_ms: Math.round(pct(chartFetches, 95)),
    chart_30d_server_wait_p95_ms: Math.round(pct(chartWaits, 95)),
    breach_median_ms: pct(breaches, 50),
    breaches_ms: breaches,
    targets: { frame_p95_ms: 20, long_tasks_over_100ms: 0, grid_first_paint_ms: 1000, chart_30d_p95_ms: 200, breach_median_ms: 1000 },
    wall_clock_s: Math.round((Date.now() - started) / 1000),
  };
  console.log(JSON.stringify(result));
} finally {
  await browser?.close();
  await app?.stop();
  for (const s of sims) s.child.kill("SIGTERM");
  await engine.stop();
}
