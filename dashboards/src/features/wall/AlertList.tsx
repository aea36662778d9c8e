import { useState } from "preact/hooks";
import { ackAlert, setAlertStatus } from "../../api/alerts";
import { ApiError } from "../../api/client";
import type { Alert } from "../../api/types";
import { alertStatusLabel, t } from "../../i18n/es-MX";
import { formatAgo, formatMetric } from "../../i18n/format";
import { now } from "../../state/clock";
import { canActOnAlerts, user } from "../../state/session";
import { sortedAlerts, wall } from "../../state/store";
import { resolvedButFiring } from "../../state/wall";
import { Modal } from "../../ui/Modal";
import { VirtualRows } from "../../ui/VirtualRows";

export function AlertList(props: { alerts?: Alert[] }) {
  const alerts = props.alerts ?? sortedAlerts.value;
  if (alerts.length === 0) return <p class="empty">{t("noAlerts")}</p>;
  return (
    <VirtualRows
      items={alerts}
      rowHeight={132}
      keyOf={(a) => a.id}
      render={(a) => <AlertRow alert={a} />}
      class="alert-list"
      testId="alert-list"
    />
  );
}

function AlertRow({ alert }: { alert: Alert }) {
  const device = wall.value.devices.get(alert.device_id);
  const [resolving, setResolving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = (run: () => Promise<unknown>) =>
    run().catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  return (
    <article
      class={`alert sev-${alert.severity} ${alert.state}`}
      data-testid="alert-row"
      data-alert-id={alert.id}
      data-status={alert.status}
    >
      <header>
        <span class={`badge sev-${alert.severity}`}>{alert.severity === "critical" ? t("critical") : t("warning")}</span>
        <strong class="alert-title">{alert.title}</strong>
        {resolvedButFiring(alert) && (
          <span class="badge still-firing" data-testid="alert-still-firing" title={t("stillFiringHint")}>
            {t("stillFiring")}
          </span>
        )}
        {alert.suppressed_by && (
          <span class="badge maintenance" data-testid="alert-maintenance" title={t("maintenanceHint")}>
            {t("inMaintenance")}
          </span>
        )}
        <span class="muted">{formatAgo(alert.opened_at, now.value)}</span>
      </header>
      <p class="muted">
        <a href={`#/dispositivos/${alert.device_id}`}>{device?.name ?? t("device")}</a>
        {alert.value != null && ` · ${t("value")} ${formatMetric(alert.key, alert.value)}`}
        {" · "}
        <span data-testid="alert-status">{alertStatusLabel[alert.status]}</span>
        {alert.acked_by && " · ✓"}
      </p>
      {alert.recommended_action && (
        <p class="recommended">
          <b>{t("recommended")}:</b> {alert.recommended_action}
        </p>
      )}
      {canActOnAlerts(user.value) && (
        <div class="actions">
          {!alert.acked_by && <button onClick={() => act(() => ackAlert(alert.id))}>{t("ack")}</button>}
          {alert.status === "open" && (
            <button onClick={() => act(() => setAlertStatus(alert.id, "in_progress"))}>{t("take")}</button>
          )}
          {alert.status !== "resolved" && (
            <button class="primary" onClick={() => setResolving(true)}>{t("resolve")}</button>
          )}
        </div>
      )}
      {error && <p class="error">{error}</p>}
      {resolving && <ResolveModal alert={alert} onClose={() => setResolving(false)} />}
    </article>
  );
}

function ResolveModal({ alert, onClose }: { alert: Alert; onClose: () => void }) {
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <Modal title={t("confirmResolve")} onClose={onClose} testId="resolve-modal">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setAlertStatus(alert.id, "resolved", comment || undefined)
            .then(onClose)
            .catch((err) => setError(err instanceof ApiError ? err.message : String(err)));
        }}
      >
        <p>{alert.title}</p>
        <label>
          {t("comment")}
          <textarea maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
        </label>
        {error && <p class="error">{error}</p>}
        <div class="actions">
          <button type="button" onClick={onClose}>{t("cancel")}</button>
          <button type="submit" class="primary">{t("resolve")}</button>
        </div>
      </form>
    </Modal>
  );
}
