// The ticket state machine's allowed moves (CONTRACT.md), to offer only valid buttons.
import type { TicketStatus } from "../../api/types";

export const TICKET_MOVES: Record<TicketStatus, TicketStatus[]> = {
  new: ["assigned", "pending_approval", "cancelled"],
  pending_approval: ["assigned"],
  assigned: ["in_progress"],
  in_progress: ["waiting_customer", "resolved"],
  waiting_customer: ["in_progress", "resolved"],
  resolved: ["closed", "reopened"],
  reopened: ["in_progress"],
  closed: [],
  cancelled: [],
};
