// The ticket state machine (docs/api.md) and who may make which move, to offer only the buttons
// the server will accept. The server checks again; this only decides what is rendered.
import type { Role, TicketStatus } from "../../api/types";

export const TICKET_MOVES: Record<TicketStatus, TicketStatus[]> = {
  new: ["assigned", "in_progress", "pending_approval", "cancelled"],
  pending_approval: ["assigned", "cancelled"],
  assigned: ["in_progress", "cancelled"],
  in_progress: ["waiting_customer", "resolved"],
  waiting_customer: ["in_progress", "resolved"],
  resolved: ["closed", "reopened"],
  reopened: ["in_progress"],
  closed: [],
  cancelled: [],
};

/**
 * The moves `role` may make on a ticket in `status`: staff every move of the table; the
 * tenant's client_admin approves or rejects (`pending_approval → assigned | cancelled`) and
 * cancels a `new` ticket; a requester cancels its own `new` ticket.
 */
export function movesFor(status: TicketStatus, role: Role, ownTicket: boolean): TicketStatus[] {
  const all = TICKET_MOVES[status];
  switch (role) {
    case "superadmin":
    case "admin":
    case "technician":
      return all;
    case "client_admin":
      return status === "pending_approval" ? all : status === "new" ? ["cancelled"] : [];
    case "requester":
      return ownTicket && status === "new" ? ["cancelled"] : [];
  }
}
