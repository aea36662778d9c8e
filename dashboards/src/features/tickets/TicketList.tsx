import { useEffect, useState } from "preact/hooks";
import { listTickets, slaMetrics } from "../../api/tickets";
import type { Ticket } from "../../api/types";
import { priorityLabel, t, ticketStatusLabel } from "../../i18n/es-MX";
import { formatDateTime } from "../../i18n/format";
import { now } from "../../state/clock";
import { canWrite, tenantFilter, timeZone, user } from "../../state/session";
import { type SlaNumbers, slaCell, slaSummary } from "./sla";

/** The last 30 days' SLA numbers, for staff and a client's administrator. */
function SlaStrip() {
  const [numbers, setNumbers] = useState<SlaNumbers | null>(null);
  const role = user.value?.role;
  const tenant = tenantFilter.value || undefined;
  useEffect(() => {
    if (role === "requester") return;
    void slaMetrics(tenant).then(setNumbers).catch(() => setNumbers(null));
  }, [role, tenant]);
  if (!numbers) return null;
  return (
    <dl class="sla-strip" data-testid="sla-strip">
      {slaSummary(numbers).map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function TicketList() {
  const [tickets, setTickets] = useState<Ticket[] | null>(null);
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  useEffect(() => {
    const query = { ...(q ? { q } : {}), ...(status ? { status } : {}) };
    const timer = setTimeout(() => void listTickets(query).then(setTickets).catch(() => setTickets([])), 250);
    return () => clearTimeout(timer);
  }, [q, status]);
  const zone = timeZone.value;
  return (
    <div class="tickets">
      <div class="panel-head">
        <h1>{t("tickets")}</h1>
        <input type="search" placeholder={t("searchTickets")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <select aria-label={t("status")} value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="">{t("allStatuses")}</option>
          {Object.entries(ticketStatusLabel).map(([k, v]) => (
            <option key={k} value={k}>{v}</option>
          ))}
        </select>
        {canWrite() && (
          <a class="button primary" href="#/tickets/nuevo" data-testid="new-ticket">{t("newTicket")}</a>
        )}
      </div>
      <SlaStrip />
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
              <th>{t("category")}</th>
              <th>{t("priority")}</th>
              <th>{t("status")}</th>
              <th>{t("dueAt")}</th>
              <th>{t("slaLeft")}</th>
            </tr>
          </thead>
          <tbody>
            {tickets.map((tk) => {
              const ended = tk.status === "resolved" || tk.status === "closed" || tk.status === "cancelled";
              const overdue = !ended && tk.resolution_due_at && new Date(tk.resolution_due_at).getTime() < now.value;
              const sla = slaCell(tk);
              return (
                <tr key={tk.id} data-testid="ticket-row">
                  <td><a href={`#/tickets/${tk.number}`}>{tk.number}</a></td>
                  <td>{tk.subject}</td>
                  <td>{tk.category ?? "—"}</td>
                  <td class={`prio-${tk.priority}`}>{priorityLabel[tk.priority]}</td>
                  <td>{ticketStatusLabel[tk.status]}</td>
                  <td class={overdue ? "overdue" : ""}>{tk.resolution_due_at ? formatDateTime(tk.resolution_due_at, zone) : "—"}</td>
                  <td class={`sla sla-${sla.tone}`} data-testid="ticket-sla">{sla.text}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
