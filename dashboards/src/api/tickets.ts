import { call, http } from "./client";
import type { NewTicket, TicketStatus } from "./types";

export const listTickets = (query: { status?: string; q?: string } = {}) =>
  call(() => http.GET("/api/tickets", { params: { query: { ...query, limit: 200 } } }));
export const getTicket = (id: string) => call(() => http.GET("/api/tickets/{id}", { params: { path: { id } } }));
export const createTicket = (body: NewTicket) => call(() => http.POST("/api/tickets", { body }));
export const moveTicket = (id: string, status: TicketStatus, comment?: string) =>
  call(() => http.PATCH("/api/tickets/{id}", { params: { path: { id } }, body: { status, comment } }));
export const commentTicket = (id: string, body: string, internal = false) =>
  call(() => http.POST("/api/tickets/{id}/comments", { params: { path: { id } }, body: { body, internal } }));
