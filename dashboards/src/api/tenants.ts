import { call, http } from "./client";

export const listTenants = () => call(() => http.GET("/api/tenants", { params: { query: { limit: 1000 } } }));
export const getTenant = (id: string) => call(() => http.GET("/api/tenants/{id}", { params: { path: { id } } }));
export const listSites = (tenant_id?: string) =>
  call(() => http.GET("/api/sites", { params: { query: { limit: 1000, tenant_id } } }));
