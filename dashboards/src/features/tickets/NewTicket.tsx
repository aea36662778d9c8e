import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../../api/client";
import { listDevices } from "../../api/devices";
import { listSites } from "../../api/tenants";
import { createTicket, listCategories } from "../../api/tickets";
import { categoryOptions, splitEmails } from "./categories";
import type { Device, Site, TicketPriority } from "../../api/types";
import { priorityLabel, t } from "../../i18n/es-MX";
import { tenants, user } from "../../state/session";

/** Ticket creation, tenant → site → device; a requester's choices are their own sites. */
export function NewTicket() {
  const [tenantId, setTenantId] = useState(user.value?.tenant_id ?? "");
  const [sites, setSites] = useState<Site[]>([]);
  const [siteId, setSiteId] = useState("");
  const [devices, setDevices] = useState<Device[]>([]);
  const [deviceId, setDeviceId] = useState("");
  const [subject, setSubject] = useState("");
  const [description, setDescription] = useState("");
  const [affected, setAffected] = useState(user.value?.name ?? "");
  const [contact, setContact] = useState("");
  const [emails, setEmails] = useState("");
  const [priority, setPriority] = useState<TicketPriority>("medium");
  const [categories, setCategories] = useState<ReturnType<typeof categoryOptions>>([]);
  const [categoryId, setCategoryId] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!tenantId) return;
    void listSites(tenantId).then(setSites);
    void listCategories(tenantId).then((rows) => setCategories(categoryOptions(rows)));
  }, [tenantId]);
  const needsApproval = categories.find((c) => c.id === categoryId)?.approval ?? false;
  useEffect(() => {
    if (siteId) void listDevices({ site_id: siteId }).then((d) => setDevices(d.filter((x) => x.site_id === siteId)));
  }, [siteId]);
  return (
    <form
      class="card form"
      onSubmit={(e) => {
        e.preventDefault();
        createTicket({
          tenant_id: tenantId,
          site_id: siteId,
          device_id: deviceId || undefined,
          subject,
          description,
          priority,
          affected_person: affected,
          affected_person_contact: contact.trim() || undefined,
          additional_emails: splitEmails(emails),
          category_id: categoryId,
        })
          .then((res) => (location.hash = `#/tickets/${res.ticket.number}`))
          .catch((err) => setError(err instanceof ApiError ? err.message : String(err)));
      }}
    >
      <h1>{t("newTicket")}</h1>
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
          <option value="" />
          {sites.map((s) => (
            <option key={s.id} value={s.id}>{s.name}</option>
          ))}
        </select>
      </label>
      <label>
        {t("device")}
        <select value={deviceId} onChange={(e) => setDeviceId(e.currentTarget.value)}>
          <option value="" />
          {devices.map((d) => (
            <option key={d.id} value={d.id}>{d.name}</option>
          ))}
        </select>
      </label>
      <label>
        {t("subject")}
        <input required maxLength={200} value={subject} onInput={(e) => setSubject(e.currentTarget.value)} />
      </label>
      <label>
        {t("description")}
        <textarea required maxLength={10000} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </label>
      <label>
        {t("affectedPerson")}
        <input required maxLength={200} value={affected} onInput={(e) => setAffected(e.currentTarget.value)} />
      </label>
      <label>
        {t("affectedContact")}
        <input maxLength={200} placeholder={t("affectedContactHint")} value={contact} onInput={(e) => setContact(e.currentTarget.value)} />
      </label>
      <label>
        {t("additionalEmails")}
        <input placeholder="jefa@cliente.mx, compras@cliente.mx" value={emails} onInput={(e) => setEmails(e.currentTarget.value)} />
      </label>
      <label>
        {t("category")}
        <select required value={categoryId} onChange={(e) => setCategoryId(e.currentTarget.value)}>
          <option value="" />
          {categories.map((c) => (
            <option key={c.id} value={c.id}>{c.label}</option>
          ))}
        </select>
      </label>
      {needsApproval && <p class="muted">{t("needsApproval")}</p>}
      <label>
        {t("priority")}
        <select value={priority} onChange={(e) => setPriority(e.currentTarget.value as TicketPriority)}>
          {Object.entries(priorityLabel).map(([k, v]) => (
            <option key={k} value={k}>{v}</option>
          ))}
        </select>
      </label>
      {error && <p class="error">{error}</p>}
      <button type="submit" class="primary">{t("create")}</button>
    </form>
  );
}
