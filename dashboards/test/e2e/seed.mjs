// A small data set for the browser tests, through the public API and the admin CLI only:
// a hospital on `pro` (two sites), a hardware shop on `basic` at 5/5 devices (the upsell) and a
// suspended clinic (the banner), with users of every kind the tests log in as.
import { Api, createUser } from "./harness.mjs";

export const PASSWORD = "Contraseña-Segura-1ñ";
export const users = {
  root: "root@centinela.test",
  tech: "tecnico@centinela.test",
  shopAdmin: "admin@ferreteria-nunez.test",
  clinicAdmin: "admin@clinica-nandu.test",
  requester: "solicitante@hospital-sanjose.test",
};

async function tenantWithSites(api, name, plan, sites) {
  const { body: tenant } = await api.req("POST", "/api/tenants", { name, plan }, 201);
  const out = [];
  for (const [siteName, city] of sites) {
    const { body: site } = await api.req("POST", "/api/sites", { tenant_id: tenant.id, name: siteName, city }, 201);
    out.push(site);
  }
  return { tenant, sites: out };
}

async function device(api, tenant, site, name) {
  const { body } = await api.req("POST", "/api/devices", { tenant_id: tenant.id, site_id: site.id, name, kind: "agent" }, 201);
  return { ...body.device, agent_token: body.agent_token };
}

export async function seed(db, engineUrl) {
  createUser(db, { email: users.root, name: "Raúl Núñez", role: "superadmin", password: PASSWORD });
  createUser(db, { email: users.tech, name: "Técnico Güemes", role: "technician", password: PASSWORD });
  const api = await Api.login(engineUrl, users.root, PASSWORD);

  const hospital = await tenantWithSites(api, "Hospital San José", "pro", [
    ["Urgencias", "Guadalajara"],
    ["Consulta Externa", "Zapopan"],
  ]);
  const [urgencias, consulta] = hospital.sites;
  const devices = {
    admision: await device(api, hospital.tenant, urgencias, "PC-Admisión"),
    expedientes: await device(api, hospital.tenant, urgencias, "Servidor-Expedientes"),
    farmacia: await device(api, hospital.tenant, urgencias, "PC-Farmacia"),
    senaletica: await device(api, hospital.tenant, consulta, "PC-Señalética"),
    recepcion: await device(api, hospital.tenant, consulta, "PC-Recepción"),
  };
  await api.req("POST", "/api/thresholds", {
    scope: "tenant", scope_id: hospital.tenant.id, metric: "cpu.usage_pct", op: ">",
    warning: 80, critical: 90, for_seconds: 0, auto_ticket: false,
  }, 201);

  const shop = await tenantWithSites(api, "Ferretería Núñez", "basic", [["Matriz Mérida", "Mérida"]]);
  for (const n of ["Caja-1", "Caja-2", "Bodega", "Gerencia", "Mostrador"]) await device(api, shop.tenant, shop.sites[0], n);
  createUser(db, { email: users.shopAdmin, name: "Begoña Núñez", role: "client_admin", tenant: shop.tenant.id, password: PASSWORD });

  const clinic = await tenantWithSites(api, "Clínica Ñandú", "inter", [["Consultorio Único", "Monterrey"]]);
  await device(api, clinic.tenant, clinic.sites[0], "PC-Consultorio");
  await api.req("PATCH", `/api/tenants/${clinic.tenant.id}`, { status: "suspended" }, 200);
  createUser(db, { email: users.clinicAdmin, name: "Úrsula Peña", role: "client_admin", tenant: clinic.tenant.id, password: PASSWORD });

  // A requester scoped to one site needs the users API (issue 11); an engine without it has none.
  const requester = await api.req("POST", "/api/users", {
    email: users.requester, name: "Sofía Ibáñez", role: "requester", tenant_id: hospital.tenant.id,
    site_ids: [urgencias.id], password: PASSWORD,
  });
  return { api, hospital, shop, clinic, devices, urgencias, consulta, hasRequester: requester.status === 201 };
}
