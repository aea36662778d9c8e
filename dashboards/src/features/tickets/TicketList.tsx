import { useEffect, useState } from "preact/hooks";
import { listTickets } from "../../api/tickets";
import type { Ticket } from "../../api/types";
import { priorityLabel, t, ticketStatusLabel } from "../../i18n/es-MX";
import { formatDateTime } from "../../i18n/format";
import { now } from "../../state/clock";
import { timeZone } from "../../state/session";

export function TicketList() {
  const [tickets, setTickets] = useState<Ticket[] | null>(null);
  const [q, setQ] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => void listTickets(q ? { q } : {}).then(setTickets).catch(() => setTickets([])), 250);
    return () => clearTimeout(timer);
  }, [q]);
  const zone = timeZone.value;
  return (
    <div class="tickets">
      <div class="panel-head">
        <h1>{t("tickets")}</h1>
        <input type="search" placeholder={t("search")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <a class="button primary" href="#/tickets/nuevo">{t("newTicket")}</a>
      </div>
      {tickets === null ? (
        <p class="empty">{t("loading")}</p>
      ) : tickets.length === 0 ? (
        <p class="empty">{t("noTickets")}</p>
      ) : (
        <table class="ticket-table" data-testid="ticket-table">
          <thead>
            <tr>
              <th>#</th>
              <th>{t("subject")}</th>
              <th>{t("priority")}</th>
              <th>{t("status")}</th>
              <th>{t("dueAt")}</th>
            </tr>
          </thead>
          <tbody>
            {tickets.map((tk) => {
              const overdue = tk.resolution_due_at && new Date(tk.resolution_due_at).getTime() < now.value;
              return (
                <tr key={tk.id}>
                  <td><a href={`#/tickets/${tk.number}`}>{tk.number}</a></td>
                  <td>{tk.subject}</td>
                  <td class={`prio-${tk.priority}`}>{priorityLabel[tk.priority]}</td>
                  <td>{ticketStatusLabel[tk.status]}</td>
                  <td class={overdue ? "overdue" : ""}>{tk.resolution_due_at ? formatDateTime(tk.resolution_due_at, zone) : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
