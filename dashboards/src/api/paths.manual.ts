// Query parameters, bodies and responses of the operations the dashboard uses, typed by hand in
// openapi-typescript's shape because today's OpenAPI document lists paths without schemas, and a
// few endpoints (meta, series, device filters) are newer than it. `client.ts` lays these over the
// generated `paths`: a path present here wins.
import type {
  Alert,
  AlertStatus,
  Device,
  Health,
  LogLine,
  LoginResponse,
  Meta,
  MetricPoint,
  NewDevice,
  NewTicket,
  SeriesInfo,
  Site,
  Tenant,
  Ticket,
  TicketComment,
  TicketPriority,
  TicketStatus,
  User,
} from "./types";

type Json<T> = { content: { "application/json": T } };
type Ok<T> = { 200: { headers: Record<string, unknown> } & Json<T> };
type Created<T> = { 201: { headers: Record<string, unknown> } & Json<T> };
type NoContent = { 204: { headers: Record<string, unknown>; content?: never } };
type Params<Q, P> = { query?: Q; header?: never; cookie?: never } & ([P] extends [never] ? { path?: never } : { path: P });
type Get<R, Q = never, P = never> = { parameters: Params<Q, P>; requestBody?: never; responses: Ok<R> };
type Send<B, R, P = never> = { parameters: Params<never, P>; requestBody: Json<B>; responses: R };
type Path<Ops> = Ops & { parameters: { query?: never; header?: never; path?: never; cookie?: never } };
type Id = { id: string };
type Page = { limit?: number; cursor?: string };

export interface ManualPaths {
  "/api/meta": Path<{ get: Get<Meta> }>;
  "/api/auth/login": Path<{ post: Send<{ email: string; password: string }, Ok<LoginResponse>> }>;
  "/api/auth/refresh": Path<{ post: Send<{ refresh_token: string }, Ok<LoginResponse>> }>;
  "/api/auth/logout": Path<{ post: { parameters: Params<never, never>; requestBody?: never; responses: NoContent } }>;
  "/api/auth/me": Path<{ get: Get<User> }>;
  "/api/tenants": Path<{ get: Get<Tenant[], Page> }>;
  "/api/tenants/{id}": Path<{ get: Get<Tenant, never, Id> }>;
  "/api/sites": Path<{ get: Get<Site[], Page & { tenant_id?: string }> }>;
  "/api/devices": Path<{
    get: Get<
      Device[],
      Page & { tenant_id?: string; site_id?: string; health?: Health; online?: boolean; q?: string }
    >;
    post: Send<NewDevice, Created<{ device: Device; agent_token?: string }>>;
  }>;
  "/api/devices/{id}": Path<{ get: Get<Device, never, Id> }>;
  "/api/devices/{id}/metrics": Path<{
    get: Get<{ points: MetricPoint[] }, { name: string; from?: string; to?: string; bucket?: string }, Id>;
  }>;
  "/api/devices/{id}/series": Path<{ get: Get<{ series: SeriesInfo[] } | SeriesInfo[], never, Id> }>;
  "/api/devices/{id}/logs": Path<{
    get: Get<{ logs: LogLine[] }, Page & { from?: string; to?: string; format?: "json" | "csv" }, Id>;
  }>;
  "/api/alerts": Path<{
    get: Get<Alert[], Page & { state?: string; status?: string; severity?: string; device_id?: string }>;
  }>;
  "/api/alerts/{id}": Path<{ get: Get<Alert, never, Id> }>;
  "/api/alerts/{id}/ack": Path<{ post: Send<{ comment?: string }, Ok<Alert>, Id> }>;
  "/api/alerts/{id}/status": Path<{ patch: Send<{ status: AlertStatus; comment?: string }, Ok<Alert>, Id> }>;
  "/api/tickets": Path<{
    get: Get<Ticket[], Page & { status?: string; tenant_id?: string; site_id?: string; q?: string }>;
    post: Send<NewTicket, Created<{ ticket: Ticket }>>;
  }>;
  "/api/tickets/{id}": Path<{
    get: Get<Ticket, never, Id>;
    patch: Send<
      { status?: TicketStatus; priority?: TicketPriority; assigned_to?: string; comment?: string },
      Ok<{ ticket: Ticket }>,
      Id
    >;
  }>;
  "/api/tickets/{id}/comments": Path<{
    post: Send<{ body: string; internal?: boolean }, Created<{ comment: TicketComment; ticket: Ticket }>, Id>;
  }>;
}
