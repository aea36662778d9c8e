import { call, http } from "./client";
import type { NewTicket, TicketPriority, TicketStatus } from "./types";

export const listTickets = (query: { status?: string; q?: string } = {}) =>
  call(() => http.GET("/api/tickets", { params: { query: { ...query, limit: 200 } } }));
export const getTicket = (id: string) => call(() => http.GET("/api/tickets/{id}", { params: { path: { id } } }));
export const createTicket = (body: NewTicket) => call(() => http.POST("/api/tickets", { body }));
export const moveTicket = (id: string, status: TicketStatus, comment?: string) =>
  call(() => http.PATCH("/api/tickets/{id}", { params: { path: { id } }, body: { status, comment } }));
/** Staff fields: priority and the technician (a `new` ticket given one becomes `assigned`). */
export const changeTicket = (id: string, body: { priority?: TicketPriority; assigned_to?: string }) =>
  call(() => http.PATCH("/api/tickets/{id}", { params: { path: { id } }, body }));
export const commentTicket = (id: string, body: string, internal = false) =>
  call(() => http.POST("/api/tickets/{id}/comments", { params: { path: { id } }, body: { body, internal } }));
/** The MSP-wide categories and the tenant's own (`Padre / Hija` names are built by the caller). */
export const listCategories = (tenant_id?: string) =>
  call(() => http.GET("/api/ticket-categories", { params: { query: { tenant_id, limit: 500 } } }));
/** Active technicians and admins, for assignment (staff only). */
export const listTechnicians = () =>
  call(() => http.GET("/api/users", { params: { query: { active: true, limit: 500 } } })).then((users) =>
    users.filter((u) => u.role === "technician" || u.role === "admin"),
  );
/** The helpdesk's SLA numbers over the tickets created in the last 30 days (staff, client_admin). */
export const slaMetrics = (tenant_id?: string) =>
  call(() => http.GET("/api/sla/metrics", { params: { query: { tenant_id } } }));
