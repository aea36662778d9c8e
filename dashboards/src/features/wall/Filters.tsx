import { useEffect, useState } from "preact/hooks";
import { listSites } from "../../api/tenants";
import type { Health, Site } from "../../api/types";
import { t } from "../../i18n/es-MX";
import { filter } from "../../state/store";

/** Filters run on the server: each change reloads the device list (search waits for a pause). */
export function Filters() {
  const f = filter.value;
  const [sites, setSites] = useState<Site[]>([]);
  const [q, setQ] = useState(f.q ?? "");
  useEffect(() => {
    void listSites(f.tenant_id).then(setSites).catch(() => setSites([]));
  }, [f.tenant_id]);
  useEffect(() => {
    const timer = setTimeout(() => {
      if ((filter.value.q ?? "") !== q) filter.value = { ...filter.value, q: q || undefined };
    }, 300);
    return () => clearTimeout(timer);
  }, [q]);
  return (
    <div class="filters">
      <select
        aria-label={t("site")}
        data-testid="site-filter"
        value={f.site_id ?? ""}
        onChange={(e) => (filter.value = { ...filter.value, site_id: e.currentTarget.value || undefined })}
      >
        <option value="">{t("allSites")}</option>
        {sites.map((s) => (
          <option key={s.id} value={s.id}>{s.name}</option>
        ))}
      </select>
      <select
        aria-label={t("status")}
        value={f.health ?? ""}
        onChange={(e) => (filter.value = { ...filter.value, health: (e.currentTarget.value || undefined) as Health | undefined })}
      >
        <option value="">{t("anyHealth")}</option>
        <option value="green">{t("healthy")}</option>
        <option value="yellow">{t("warning")}</option>
        <option value="red">{t("critical")}</option>
        <option value="unknown">{t("unknown")}</option>
      </select>
      <input type="search" placeholder={t("search")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
    </div>
  );
}
