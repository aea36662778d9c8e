// Real parts for the browser tests and the benchmark: the `centinela` binary on a fresh
// PostgreSQL database, devices with engine-signed certificates publishing through
// `mosquitto_pub` over MQTT/TLS, the built app, and the system Chromium via playwright-core.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const appRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const repoRoot = resolve(appRoot, "..");
export const artefacts = resolve(repoRoot, "target/dashboard-e2e");
mkdirSync(artefacts, { recursive: true });

const JWT_SECRET = "e2e-secret-e2e-secret-e2e-secret-0123456";
const MASTER_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

export function engineBinary() {
  const bin = process.env.CENTINELA_BIN ?? resolve(repoRoot, "target/debug/centinela");
  if (!existsSync(bin)) throw new Error(`no engine binary at ${bin}: run cargo build first (or set CENTINELA_BIN)`);
  return bin;
}

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/** A new, empty database on the cluster of CENTINELA_TEST_DATABASE_URL (or DATABASE_URL). */
export function freshDatabase(prefix = "dash_e2e") {
  const base = process.env.CENTINELA_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!base) throw new Error("set DATABASE_URL (eval \"$(scripts/pg)\")");
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  execFileSync("psql", [base, "-q", "-c", `CREATE DATABASE ${name}`], { stdio: "pipe" });
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

export function createUser(db, { email, name, role, tenant, password }) {
  const args = ["admin", "create-user", "--email", email, "--name", name, "--role", role];
  if (tenant) args.push("--tenant", tenant);
  execFileSync(engineBinary(), args, {
    input: `${password}\n`,
    env: { ...process.env, DATABASE_URL: db, CENTINELA_LOG: "warn" },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Starts `centinela serve` (or `demo`); resolves once it prints its HTTP address. */
export async function startEngine(db, extra = {}, command = "serve") {
  const mqttPort = await freePort();
  const data = mkdtempSync(join(tmpdir(), "centinela-e2e-"));
  const child = spawn(engineBinary(), [command], {
    env: {
      ...process.env,
      DATABASE_URL: db,
      CENTINELA_HTTP__LISTEN: "127.0.0.1:0",
      CENTINELA_MQTT__LISTEN: `127.0.0.1:${mqttPort}`,
      CENTINELA_AUTH__JWT_SECRET: JWT_SECRET,
      CENTINELA_SECRETS__MASTER_KEY: MASTER_KEY,
      CENTINELA_ENGINE__DATA_DIR: data,
      CENTINELA_STORAGE__FLUSH_INTERVAL_MS: "50",
      CENTINELA_LOG: "warn,rumqttd=error",
      ...extra,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`engine did not start in 90 s:\n${log}`)), 90_000);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /http listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(`http://${m[1]}`);
      }
    });
    child.on("exit", (code) => fail(new Error(`engine exited with ${code}:\n${log}`)));
  });
  return {
    url,
    mqttPort,
    log: () => log,
    stop: () =>
      new Promise((ok) => {
        child.once("exit", ok);
        child.kill("SIGTERM");
      }),
  };
}

/** A logged-in REST client (for seeding and assertions, never for what the page does). */
export class Api {
  constructor(base, token = null) {
    this.base = base;
    this.token = token;
  }
  static async login(base, email, password) {
    const api = new Api(base);
    const { body } = await api.req("POST", "/api/auth/login", { email, password }, 200);
    api.token = body.access_token;
    return api;
  }
  async req(method, path, body, expect) {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        ...(body ? { "Content-Type": "application/json" } : {}),
        ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const parsed = text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
    if (expect !== undefined && res.status !== expect) {
      throw new Error(`${method} ${path} → ${res.status}, expected ${expect}: ${text}`);
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }
}

/** Enrolls a device for MQTT/TLS: key + CSR by openssl, certificate from the engine. */
export async function mqttCredentials(base, deviceKey, agentToken) {
  const dir = mkdtempSync(join(tmpdir(), "centinela-dev-"));
  execFileSync("openssl", [
    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", join(dir, "key.pem"), "-subj", `/CN=${deviceKey}`, "-out", join(dir, "csr.pem"),
  ], { stdio: "pipe" });
  const csr = execFileSync("cat", [join(dir, "csr.pem")], { encoding: "utf8" });
  const res = await fetch(`${base}/api/agents/certificate`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${agentToken}` },
    body: JSON.stringify({ csr }),
  });
  if (!res.ok) throw new Error(`certificate: ${res.status} ${await res.text()}`);
  const body = await res.json();
  writeFileSync(join(dir, "cert.pem"), body.certificate);
  writeFileSync(join(dir, "ca.pem"), body.ca_certificate);
  return { dir, deviceKey, agentToken, port: body.mqtt.port };
}

/** One telemetry message through the real broker (QoS 1, so it returns once accepted). */
export function publishTelemetry(creds, metrics, ts = Date.now()) {
  execFileSync("mosquitto_pub", [
    "-h", "localhost", "-p", String(creds.port),
    "--cafile", join(creds.dir, "ca.pem"), "--cert", join(creds.dir, "cert.pem"), "--key", join(creds.dir, "key.pem"),
    "-u", creds.deviceKey, "-P", creds.agentToken, "-q", "1",
    "-t", `/tenants/${creds.deviceKey}/telemetry`, "-m", JSON.stringify({ ts, metrics }),
  ], { stdio: "pipe", timeout: 10_000 });
}

/**
 * The app's URL: the engine itself when it serves the built app, else `vite preview` of
 * `dist/` proxying /api and /ws to the engine (engines older than the embedded app).
 */
export async function serveApp(engineUrl) {
  const res = await fetch(engineUrl + "/").catch(() => null);
  const html = res?.ok ? await res.text() : "";
  if (html.includes('id="app"')) return { url: engineUrl, stop: async () => undefined };
  if (!existsSync(join(appRoot, "dist/index.html"))) throw new Error("dist/ missing: run npm run build first");
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(appRoot, "node_modules/vite/bin/vite.js"), "preview", "--port", String(port), "--strictPort", "--host", "127.0.0.1"],
    { cwd: appRoot, env: { ...process.env, CENTINELA_URL: engineUrl }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(url).then((r) => r.ok).catch(() => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () =>
      new Promise((ok) => {
        child.once("exit", ok);
        child.kill("SIGTERM");
      }),
  };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** Logs in through the login page and waits for the wall. */
export async function loginAs(page, appUrl, email, password) {
  await page.goto(appUrl + "/");
  await page.getByLabel("Correo electrónico").fill(email);
  await page.getByLabel("Contraseña").fill(password);
  await page.getByRole("button", { name: "Iniciar sesión" }).click();
  await page.getByTestId("kpis").waitFor({ timeout: 15_000 });
  await page.getByText("En vivo").waitFor({ timeout: 15_000 });
}
