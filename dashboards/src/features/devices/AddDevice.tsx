import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../../api/client";
import { createDevice } from "../../api/devices";
import { listSites } from "../../api/tenants";
import type { ApiErrorBody, Site } from "../../api/types";
import { t } from "../../i18n/es-MX";
import { tenantFilter, tenants, user } from "../../state/session";
import { reloadDevices } from "../../state/store";
import { Modal } from "../../ui/Modal";

const PLAN_NAME: Record<string, string> = { basic: "Básico", inter: "Intermedio", pro: "Pro" };

/** "+ Agregar": a device for a site; at the plan's limit the server's 402 becomes the upsell. */
export function AddDevice({ onClose }: { onClose: () => void }) {
  const [tenantId, setTenantId] = useState(user.value?.tenant_id ?? tenantFilter.value ?? "");
  const [sites, setSites] = useState<Site[]>([]);
  const [siteId, setSiteId] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [upsell, setUpsell] = useState<ApiErrorBody | null>(null);
  const [token, setToken] = useState<string | null>(null);
  useEffect(() => {
    if (!tenantId) return setSites([]);
    void listSites(tenantId).then((s) => {
      setSites(s);
      setSiteId(s[0]?.id ?? "");
    });
  }, [tenantId]);

  if (upsell) {
    return (
      <Modal title={t("planLimitTitle")} onClose={onClose} testId="upsell-modal">
        <p>
          {t("planLimitBody")} <b>{PLAN_NAME[upsell.required_plan_hint ?? "pro"]}</b>.
        </p>
        <div class="actions">
          <button onClick={onClose}>{t("close")}</button>
        </div>
      </Modal>
    );
  }
  if (token) {
    return (
      <Modal title={t("created")} onClose={onClose}>
        <p>{t("agentToken")}</p>
        <code class="token">{token}</code>
      </Modal>
    );
  }
  return (
    <Modal title={t("newDevice")} onClose={onClose} testId="add-device-modal">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          createDevice({ tenant_id: tenantId, site_id: siteId, name: name.trim(), kind: "agent" })
            .then((res) => {
              void reloadDevices();
              setToken(res.agent_token ?? "");
            })
            .catch((err) => {
              if (err instanceof ApiError && err.status === 402) setUpsell(err.body);
              else setError(err instanceof ApiError ? err.message : String(err));
            });
        }}
      >
        {!user.value?.tenant_id && (
          <label>
            {t("tenant")}
            <select required value={tenantId} onChange={(e) => setTenantId(e.currentTarget.value)}>
              <option value="" />
              {tenants.value.map((tn) => (
                <option key={tn.id} value={tn.id}>{tn.name}</option>
              ))}
            </select>
          </label>
        )}
        <label>
          {t("site")}
          <select required value={siteId} onChange={(e) => setSiteId(e.currentTarget.value)}>
            {sites.map((s) => (
              <option key={s.id} value={s.id}>{s.name}</option>
            ))}
          </select>
        </label>
        <label>
          {t("name")}
          <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        {error && <p class="error">{error}</p>}
        <div class="actions">
          <button type="button" onClick={onClose}>{t("cancel")}</button>
          <button type="submit" class="primary">{t("create")}</button>
        </div>
      </form>
    </Modal>
  );
}
