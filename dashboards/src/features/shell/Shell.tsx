import type { ComponentChildren } from "preact";
import { logout } from "../../api/auth";
import { t } from "../../i18n/es-MX";
import type { SocketStatus } from "../../live/socket";
import { isStaff, ownTenant, tenantFilter, tenants, user } from "../../state/session";
import { filter } from "../../state/store";

export function Shell(props: { status: SocketStatus; route: string; children: ComponentChildren }) {
  const u = user.value;
  const suspended = ownTenant.value?.status === "suspended";
  return (
    <div class="shell">
      <header class="topbar">
        <strong class="brand">{t("appName")}</strong>
        <nav>
          <a href="#/" class={props.route === "wall" ? "active" : ""}>{t("wall")}</a>
          <a href="#/tickets" class={props.route === "tickets" ? "active" : ""}>{t("tickets")}</a>
        </nav>
        {isStaff(u) && <TenantSwitcher />}
        <span class={`live-status ${props.status}`} data-testid="live-status">
          {props.status === "live" ? t("live") : props.status === "connecting" ? t("connecting") : t("reconnecting")}
        </span>
        <span class="who">{u?.name}</span>
        <button class="ghost" onClick={() => void logout()}>{t("logout")}</button>
      </header>
      {suspended && (
        <div class="banner suspended" role="alert" data-testid="suspended-banner">
          {t("suspended")}
        </div>
      )}
      <main class="content">{props.children}</main>
    </div>
  );
}

function TenantSwitcher() {
  return (
    <select
      aria-label={t("tenant")}
      data-testid="tenant-switcher"
      value={tenantFilter.value}
      onChange={(e) => {
        tenantFilter.value = e.currentTarget.value;
        filter.value = { ...filter.value, tenant_id: e.currentTarget.value || undefined, site_id: undefined };
      }}
    >
      <option value="">{t("allTenants")}</option>
      {tenants.value.map((tn) => (
        <option key={tn.id} value={tn.id}>
          {tn.name}
          {tn.status === "suspended" ? " (suspendido)" : ""}
        </option>
      ))}
    </select>
  );
}
