// The README's first experience in a real headless Chromium: `centinela demo` on a fresh
// database (one day of history, to keep the run short), "Modo demo" on the login page, the live
// wall, and the helpdesk's ticket views worked through by the demo's own accounts: a requester
// files a ticket in the portal, a technician works it (with an internal note the requester never
// sees), and a client administrator approves a ticket whose category needs approval.
// Screenshots go to target/dashboard-e2e/demo-*.png.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";
import { Api, artefacts, freshDatabase, launchBrowser, serveApp, startEngine } from "./harness.mjs";

const ADMIN = ["admin@lanetdemo.com", "DemoAdmin123!"];
const TECH = ["tecnico1@lanetdemo.com", "DemoTec123!"];
const REQUESTER = ["solicitante1@lanetdemo.com", "DemoSol123!"];
const CLIENT = ["cliente1@lanetdemo.com", "DemoCli123!"];

let engine, app, browser;
const consoleErrors = [];
/** Filled by the requester's test, used by the technician's. */
let filed = null;

async function newPage(name) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 }, locale: "es-MX" });
  const page = await context.newPage();
  page.on("pageerror", (e) => consoleErrors.push(`${name}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(`${name}: ${m.text()} (${m.location().url ?? ""})`);
  });
  return page;
}

const shot = (page, file) => page.screenshot({ path: join(artefacts, file), fullPage: false });

async function loginWith(page, [email, password]) {
  await page.goto(app.url + "/");
  await page.getByLabel("Correo electrónico").fill(email);
  await page.getByLabel("Contraseña").fill(password);
  await page.getByRole("button", { name: "Iniciar sesión" }).click();
  await page.getByTestId("kpis").waitFor({ timeout: 15_000 });
}

async function openTicket(page, number) {
  await page.goto(`${app.url}/#/tickets/${number}`);
  await page.getByTestId("ticket-detail").waitFor({ timeout: 10_000 });
}

describe("the demo in Chromium", { concurrency: false }, () => {
  before(async () => {
    engine = await startEngine(
      freshDatabase("dash_demo"),
      {
        CENTINELA_DEMO__HISTORY_DAYS: "1",
        CENTINELA_DEMO__TELEMETRY_INTERVAL_MS: "1000",
        CENTINELA_DEMO__ROUTER_OUTAGE_AFTER_S: "3600",
      },
      "demo",
    );
    app = await serveApp(engine.url);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    await engine?.stop();
  });

  it("'Modo demo' logs in with no typing and shows the live wall", async () => {
    const page = await newPage("demo-login");
    await page.goto(app.url + "/");
    const demoButton = page.getByRole("button", { name: "Modo demo" });
    await demoButton.waitFor({ timeout: 10_000 });
    // The accounts come from the server (GET /api/meta), listed under the button.
    await page.getByText("solicitante1@lanetdemo.com").waitFor();
    await shot(page, "demo-01-login.png");
    await demoButton.click();
    await page.getByTestId("kpis").waitFor({ timeout: 15_000 });
    await page.getByText("En vivo").waitFor({ timeout: 15_000 });
    await page.getByTestId("device-tile").first().waitFor();
    assert.match(await page.getByTestId("kpis").innerText(), /^75\n/, "the demo's 75 devices");
    // The seeded alerts firing now, and the fleet's own, are on the wall.
    await page.getByTestId("alert-row").first().waitFor({ timeout: 30_000 });
    await shot(page, "demo-02-wall.png");
    await page.getByRole("link", { name: "Tickets" }).click();
    await page.getByTestId("ticket-row").first().waitFor({ timeout: 10_000 });
    assert.ok((await page.getByTestId("ticket-row").count()) >= 60, "the 60 seeded tickets are listed");
    // Every open ticket shows its SLA clock (business time left, paused or overdue).
    const slaCells = await page.getByTestId("ticket-sla").allInnerTexts();
    assert.ok(slaCells.some((c) => /^(Respuesta|Resolución): /.test(c)), `SLA cells: ${slaCells.slice(0, 8)}`);
    assert.ok(slaCells.some((c) => c.includes("vencido")), "some seeded tickets are overdue");
    await shot(page, "demo-03a-tickets-sla.png");
    await page.getByLabel("Estado").selectOption("waiting_customer");
    await page.waitForFunction(
      () => [...document.querySelectorAll("[data-testid=ticket-row]")].every((r) => r.textContent.includes("Esperando al cliente")),
      null,
      { timeout: 10_000 },
    );
    assert.ok(
      (await page.getByTestId("ticket-sla").allInnerTexts()).every((c) => c === "En pausa"),
      "waiting on the customer pauses the clocks",
    );
    await shot(page, "demo-03-tickets.png");
    await page.context().close();
  });

  it("a requester files a ticket through the portal: tenant → site → device, with a category", async () => {
    const page = await newPage("demo-requester");
    await loginWith(page, REQUESTER);
    await page.getByRole("link", { name: "Tickets" }).click();
    await page.getByTestId("new-ticket").click();
    const form = page.locator("form.form");
    // A requester has no tenant to pick: its own is used; its sites are the only choices.
    assert.equal(await form.getByLabel("Cliente").count(), 0);
    const site = form.getByLabel("Sede");
    await page.waitForFunction(() => document.querySelectorAll("form.form select")[0]?.options.length > 1);
    const sites = await site.locator("option").allInnerTexts();
    assert.equal(sites.filter(Boolean).length, 1, `one site for solicitante1: ${sites}`);
    await site.selectOption({ index: 1 });
    await form.getByLabel("Categoría").selectOption({ label: "Impresoras / Tóner" });
    await form.getByLabel("Asunto").fill("La impresora de recepción imprime rayado — tóner");
    await form.getByLabel("Descripción").fill("Desde la mañana las hojas salen con rayas grises; ya se agitó el cartucho.");
    await form.getByLabel("Correos adicionales").fill("compras@clinicadelnorte.mx");
    await shot(page, "demo-04-new-ticket.png");
    await form.getByRole("button", { name: "Crear" }).click();
    const detail = page.getByTestId("ticket-detail");
    await detail.waitFor({ timeout: 10_000 });
    const heading = await detail.locator("h1").innerText();
    const number = heading.split(" · ")[0];
    assert.match(number, /^TKT-\d{6}$/);
    // The contact was filled from the requester's account.
    await detail.getByText("solicitante1@lanetdemo.com").waitFor();
    assert.match(await detail.innerText(), /Impresoras \/ Tóner/);
    filed = { number, status: await detail.getAttribute("data-status") };
    assert.ok(["new", "assigned"].includes(filed.status), filed.status);
    await shot(page, "demo-05-ticket-filed.png");
    await page.context().close();
  });

  it("a technician works the ticket; the requester sees the public comment, never the internal note", async () => {
    assert.ok(filed, "the requester's ticket");
    const tech = await newPage("demo-tech");
    await loginWith(tech, TECH);
    await openTicket(tech, filed.number);
    const detail = tech.getByTestId("ticket-detail");
    await detail.getByTestId("ticket-moves").getByRole("button", { name: "En progreso" }).click();
    await tech.locator("[data-testid=ticket-detail][data-status=in_progress]").waitFor({ timeout: 10_000 });
    await detail.getByLabel("Comentario").fill("Nota interna: el cartucho es genérico; cotizar original.");
    await detail.getByLabel("Interno (no lo ve el cliente)").check();
    await detail.getByRole("button", { name: "Agregar comentario" }).click();
    await detail.getByText("Nota interna: el cartucho es genérico").waitFor({ timeout: 10_000 });
    await detail.getByLabel("Comentario").fill("Hola Sofía: pasamos hoy a las 16:00 a cambiar el tóner.");
    await detail.getByRole("button", { name: "Agregar comentario" }).click();
    await detail.getByText("pasamos hoy a las 16:00").waitFor({ timeout: 10_000 });
    await detail.getByRole("button", { name: "Esperando al cliente" }).click();
    await tech.locator("[data-testid=ticket-detail][data-status=waiting_customer]").waitFor({ timeout: 10_000 });
    await detail.getByTestId("ticket-history").getByText("En progreso → Esperando al cliente").waitFor();
    await shot(tech, "demo-06-ticket-technician.png");

    const requester = await newPage("demo-requester-2");
    await loginWith(requester, REQUESTER);
    await openTicket(requester, filed.number);
    const mine = requester.getByTestId("ticket-detail");
    await mine.getByText("pasamos hoy a las 16:00").waitFor();
    assert.equal(await mine.getByText("cartucho es genérico").count(), 0, "the internal note reached the requester");
    assert.equal(await mine.getByTestId("ticket-moves").count(), 0, "a requester makes no staff moves");
    // Answering moves the ticket back to the technician (waiting_customer → in_progress).
    await mine.getByLabel("Comentario").fill("Perfecto, aquí estaremos.");
    await mine.getByRole("button", { name: "Agregar comentario" }).click();
    await requester.locator("[data-testid=ticket-detail][data-status=in_progress]").waitFor({ timeout: 10_000 });
    await shot(requester, "demo-07-ticket-requester.png");
    await tech.context().close();
    await requester.context().close();
  });

  it("a client administrator approves a ticket whose category needs approval", async () => {
    // Set up through the REST API: a category of the client's tenant that needs approval, and
    // a requester's ticket in it.
    const admin = await Api.login(engine.url, ...ADMIN);
    const requester = await Api.login(engine.url, ...REQUESTER);
    const me = (await requester.req("GET", "/api/auth/me", null, 200)).body;
    const { body: created } = await admin.req(
      "POST",
      "/api/ticket-categories",
      { tenant_id: me.tenant_id, name: "Compras de equipo", requires_approval: true },
      201,
    );
    const { body: sites } = await requester.req("GET", "/api/sites", null, 200);
    const { body: filedForApproval } = await requester.req(
      "POST",
      "/api/tickets",
      {
        site_id: sites[0].id,
        subject: "Laptop nueva para la recepción",
        description: "La laptop actual ya no enciende; se solicita una nueva.",
        affected_person: "Sofía Hernández López",
        priority: "medium",
        category_id: created.category.id,
      },
      201,
    );
    assert.equal(filedForApproval.ticket.status, "pending_approval");

    const page = await newPage("demo-client");
    await loginWith(page, CLIENT);
    await openTicket(page, filedForApproval.ticket.number);
    const moves = page.getByTestId("ticket-moves");
    assert.deepEqual(await moves.getByRole("button").allInnerTexts(), ["Aprobar", "Rechazar"]);
    await shot(page, "demo-08-approval.png");
    await moves.getByRole("button", { name: "Aprobar" }).click();
    await page.locator("[data-testid=ticket-detail][data-status=assigned]").waitFor({ timeout: 10_000 });
    // The approval ran the assignment: a technician has it now.
    assert.notEqual(await page.getByTestId("ticket-assignee").innerText(), "Sin asignar");
    await page.context().close();
  });

  it("logged no console errors", () => {
    assert.deepEqual(consoleErrors, []);
  });
});
