import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../../api/client";
import { commentTicket, getTicket, moveTicket } from "../../api/tickets";
import type { Ticket } from "../../api/types";
import { priorityLabel, t, ticketStatusLabel } from "../../i18n/es-MX";
import { formatDateTime } from "../../i18n/format";
import { canMoveTickets, timeZone, user } from "../../state/session";
import { TICKET_MOVES } from "./moves";

export function TicketDetail({ id }: { id: string }) {
  const [ticket, setTicket] = useState<Ticket | null>(null);
  const [missing, setMissing] = useState(false);
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const reload = () => getTicket(id).then(setTicket).catch(() => setMissing(true));
  useEffect(() => void reload(), [id]);
  if (missing) return <p class="empty">{t("notFound")}</p>;
  if (!ticket) return <p class="empty">{t("loading")}</p>;
  const zone = timeZone.value;
  const fail = (e: unknown) => setError(e instanceof ApiError ? e.message : String(e));
  return (
    <div class="detail">
      <a href="#/tickets">{t("back")}</a>
      <h1>
        {ticket.number} · {ticket.subject}
      </h1>
      <p class="muted">
        {priorityLabel[ticket.priority]} · {ticketStatusLabel[ticket.status]} · {formatDateTime(ticket.created_at, zone)}
        {ticket.resolution_due_at && ` · ${t("dueAt")}: ${formatDateTime(ticket.resolution_due_at, zone)}`}
      </p>
      <p class="ticket-description">{ticket.description}</p>
      {canMoveTickets(user.value) && TICKET_MOVES[ticket.status].length > 0 && (
        <div class="actions">
          <span>{t("moveTo")}:</span>
          {TICKET_MOVES[ticket.status].map((s) => (
            <button key={s} onClick={() => moveTicket(ticket.id, s).then(reload).catch(fail)}>
              {ticketStatusLabel[s]}
            </button>
          ))}
        </div>
      )}
      <section class="panel">
        <h2>{t("comments")}</h2>
        {(ticket.comments ?? []).map((c) => (
          <article key={c.id} class={`comment ${c.internal ? "internal" : ""}`}>
            <header class="muted">
              {c.author_name ?? ""} · {formatDateTime(c.created_at, zone)}
            </header>
            <p>{c.body}</p>
          </article>
        ))}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            commentTicket(ticket.id, comment)
              .then(() => {
                setComment("");
                return reload();
              })
              .catch(fail);
          }}
        >
          <textarea required maxLength={10000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          <button type="submit">{t("addComment")}</button>
        </form>
        {error && <p class="error">{error}</p>}
      </section>
    </div>
  );
}
