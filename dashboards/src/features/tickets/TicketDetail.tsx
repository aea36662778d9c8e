import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../../api/client";
import { changeTicket, commentTicket, getTicket, listTechnicians, moveTicket } from "../../api/tickets";
import type { Ticket, TicketEvent, TicketPriority, TicketStatus } from "../../api/types";
import { eventKindLabel, priorityLabel, t, ticketStatusLabel } from "../../i18n/es-MX";
import { slaCell, slaStepText } from "./sla";
import { formatDateTime } from "../../i18n/format";
import { canWrite, isStaff, timeZone, user } from "../../state/session";
import { movesFor } from "./moves";

type Person = { id: string; name: string };

/** The words of a history entry (comments are shown above, not here). */
function eventText(e: TicketEvent, nameOf: (id?: string | null) => string): string {
  const label = (v?: string | null) => (v ? (ticketStatusLabel[v] ?? priorityLabel[v] ?? v) : "—");
  switch (e.kind) {
    case "status":
      return `${label(e.from_value)} → ${label(e.to_value)}`;
    case "priority":
      return `${t("priority")}: ${label(e.from_value)} → ${label(e.to_value)}`;
    case "created":
      return `${t("created")} · ${label(e.to_value)}`;
    case "assigned":
      return `${t("assignedTo")}: ${nameOf(e.to_value)}`;
    default:
      return [eventKindLabel[e.kind] ?? e.kind, e.comment].filter(Boolean).join(" · ");
  }
}

/** A move's button: approvals read as such for the client's administrator. */
function moveLabel(from: TicketStatus, to: TicketStatus): string {
  if (from === "pending_approval") return to === "assigned" ? t("approve") : t("reject");
  return ticketStatusLabel[to] ?? to;
}

export function TicketDetail({ id }: { id: string }) {
  const [ticket, setTicket] = useState<Ticket | null>(null);
  const [missing, setMissing] = useState(false);
  const [comment, setComment] = useState("");
  const [internal, setInternal] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [staffList, setStaffList] = useState<Person[]>([]);
  const me = user.value;
  const staff = isStaff(me);
  const reload = () => getTicket(id).then(setTicket).catch(() => setMissing(true));
  useEffect(() => void reload(), [id]);
  useEffect(() => {
    if (staff) void listTechnicians().then(setStaffList).catch(() => setStaffList([]));
  }, [staff]);
  if (missing) return <p class="empty">{t("notFound")}</p>;
  if (!ticket || !me) return <p class="empty">{t("loading")}</p>;
  const zone = timeZone.value;
  const fail = (e: unknown) => setError(e instanceof ApiError ? e.message : String(e));
  const act = (p: Promise<unknown>) => {
    setError(null);
    void p.then(reload).catch(fail);
  };
  const nameOf = (who?: string | null) =>
    who ? (who === me.id ? me.name : (staffList.find((p) => p.id === who)?.name ?? t("someone"))) : t("system");
  const writable = canWrite();
  const moves = writable ? movesFor(ticket.status, me.role, ticket.created_by === me.id) : [];
  const history = (ticket.history ?? []).filter((e) => e.kind !== "comment");
  return (
    <div class="detail ticket-detail" data-testid="ticket-detail" data-status={ticket.status}>
      <a href="#/tickets">{t("back")}</a>
      <h1>
        {ticket.number} · {ticket.subject}
      </h1>
      <dl class="facts">
        <dt>{t("status")}</dt>
        <dd data-testid="ticket-status">{ticketStatusLabel[ticket.status]}</dd>
        <dt>{t("priority")}</dt>
        <dd class={`prio-${ticket.priority}`}>{priorityLabel[ticket.priority]}</dd>
        <dt>{t("category")}</dt>
        <dd>{ticket.category ?? "—"}</dd>
        <dt>{t("affectedPerson")}</dt>
        <dd>
          {ticket.affected_person ?? "—"}
          {ticket.affected_person_contact ? ` (${ticket.affected_person_contact})` : ""}
        </dd>
        <dt>{t("assignedTo")}</dt>
        <dd data-testid="ticket-assignee">{ticket.assigned_to ? nameOf(ticket.assigned_to) : t("unassigned")}</dd>
        <dt>{t("created")}</dt>
        <dd>{formatDateTime(ticket.created_at, zone)}</dd>
        {ticket.response_due_at && (
          <>
            <dt>{t("responseDue")}</dt>
            <dd>{formatDateTime(ticket.response_due_at, zone)}</dd>
          </>
        )}
        {ticket.resolution_due_at && (
          <>
            <dt>{t("dueAt")}</dt>
            <dd>{formatDateTime(ticket.resolution_due_at, zone)}</dd>
          </>
        )}
        {(() => {
          const sla = slaCell(ticket);
          return sla.tone === "none" ? null : (
            <>
              <dt>{t("slaLeft")}</dt>
              <dd class={`sla sla-${sla.tone}`} data-testid="ticket-detail-sla">
                {sla.text}
                {ticket.sla_policy_version != null && <span class="muted"> · {t("slaPolicy")} v{ticket.sla_policy_version}</span>}
              </dd>
            </>
          );
        })()}
      </dl>
      <p class="ticket-description">{ticket.description}</p>
      {moves.length > 0 && (
        <div class="actions" data-testid="ticket-moves">
          <span>{t("moveTo")}:</span>
          {moves.map((s) => (
            <button key={s} onClick={() => act(moveTicket(ticket.id, s))}>
              {moveLabel(ticket.status, s)}
            </button>
          ))}
        </div>
      )}
      {staff && writable && (
        <div class="actions">
          <label>
            {t("priority")}
            <select
              value={ticket.priority}
              onChange={(e) => act(changeTicket(ticket.id, { priority: e.currentTarget.value as TicketPriority }))}
            >
              {Object.entries(priorityLabel).map(([k, v]) => (
                <option key={k} value={k}>{v}</option>
              ))}
            </select>
          </label>
          <label>
            {t("assignedTo")}
            <select
              data-testid="assign-select"
              value={ticket.assigned_to ?? ""}
              onChange={(e) => e.currentTarget.value && act(changeTicket(ticket.id, { assigned_to: e.currentTarget.value }))}
            >
              <option value="">{t("unassigned")}</option>
              {staffList.map((p) => (
                <option key={p.id} value={p.id}>{p.name}</option>
              ))}
            </select>
          </label>
        </div>
      )}
      <section class="panel">
        <h2>{t("comments")}</h2>
        {(ticket.comments ?? []).map((c) => (
          <article key={c.id} class={`comment ${c.internal ? "internal" : ""}`} data-testid="ticket-comment">
            <header class="muted">
              {nameOf(c.author_id)} · {formatDateTime(c.created_at, zone)}
              {c.internal ? ` · ${t("internalNote")}` : ""}
            </header>
            <p>{c.body}</p>
          </article>
        ))}
        {writable && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setError(null);
            commentTicket(ticket.id, comment, staff && internal)
              .then(() => {
                setComment("");
                setInternal(false);
                return reload();
              })
              .catch(fail);
          }}
        >
          <label>
            {t("comment")}
            <textarea required maxLength={10000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          </label>
          {staff && (
            <label class="inline">
              <input type="checkbox" checked={internal} onChange={(e) => setInternal(e.currentTarget.checked)} />
              {t("internal")}
            </label>
          )}
          <button type="submit">{t("addComment")}</button>
        </form>
        )}
        {error && <p class="error" role="alert">{error}</p>}
      </section>
      {(ticket.sla_events ?? []).length > 0 && (
        <section class="panel">
          <h2>{t("slaSteps")}</h2>
          <ol class="history" data-testid="ticket-sla-steps">
            {(ticket.sla_events ?? []).map((s, i) => (
              <li key={i} class={`sla-step sla-${s.step}`}>
                <span class="muted">{formatDateTime(s.fired_at, zone)}</span> · {slaStepText(s)} ·{" "}
                {t("slaNotified")}: {s.notify.map(nameOf).join(", ") || "—"}
              </li>
            ))}
          </ol>
        </section>
      )}
      {history.length > 0 && (
        <section class="panel">
          <h2>{t("history")}</h2>
          <ol class="history" data-testid="ticket-history">
            {history.map((e, i) => (
              <li key={i}>
                <span class="muted">{formatDateTime(e.at, zone)}</span> · {nameOf(e.actor_id)} · {eventText(e, nameOf)}
              </li>
            ))}
          </ol>
        </section>
      )}
    </div>
  );
}
