import { t } from "../../i18n/es-MX";
import { formatCount } from "../../i18n/format";
import { wallKpis } from "../../state/store";

export function KpiTiles() {
  const k = wallKpis.value;
  return (
    <section class="kpis" data-testid="kpis">
      <Tile label={t("devices")} value={k.total} />
      <Tile label={t("healthy")} value={k.devices.green} tone="green" />
      <Tile label={t("warning")} value={k.devices.yellow} tone="yellow" />
      <Tile label={t("critical")} value={k.devices.red} tone="red" />
      <Tile label={t("offline")} value={k.devices.grey} tone="grey" />
      <Tile label={`${t("openAlerts")} · ${t("critical")}`} value={k.alerts.critical} tone="red" testId="kpi-alerts-critical" />
      <Tile label={`${t("openAlerts")} · ${t("warning")}`} value={k.alerts.warning} tone="yellow" />
      <Tile label={t("ticketsOpen")} value={k.ticketsOpen} />
      <Tile label={`${t("tickets")} ${t("overdue").toLowerCase()}`} value={k.ticketsOverdue} tone={k.ticketsOverdue ? "red" : undefined} />
    </section>
  );
}

function Tile(props: { label: string; value: number; tone?: string; testId?: string }) {
  return (
    <div class={`kpi ${props.tone ?? ""}`} data-testid={props.testId}>
      <span class="kpi-value">{formatCount(props.value)}</span>
      <span class="kpi-label">{props.label}</span>
    </div>
  );
}
