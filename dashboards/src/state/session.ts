// Who is logged in, what they may do, and the tenant in view. Controls a role may not use are
// not rendered at all; these predicates are the one place that decides.
import { computed, signal } from "@preact/signals";
import { tokens } from "../api/tokens";
import type { Role, Tenant, User } from "../api/types";
import { DEFAULT_TIME_ZONE } from "../i18n/format";

export const user = signal<User | null>(tokens.user());
tokens.subscribe((s) => {
  user.value = s?.user ?? null;
});

/** The staff's tenant switcher choice ("" = all); tenant roles are pinned to their own. */
export const tenantFilter = signal<string>("");
export const tenants = signal<Tenant[]>([]);

const STAFF: readonly Role[] = ["superadmin", "admin", "technician"];
export const isStaff = (u: User | null) => !!u && STAFF.includes(u.role);
/** A suspended tenant reads but every write answers 403: its users get no write controls. */
const writable = () => ownTenant.value?.status !== "suspended";
export const canActOnAlerts = (u: User | null) => !!u && u.role !== "requester" && writable();
export const canAddDevice = (u: User | null) =>
  !!u && (u.role === "superadmin" || u.role === "admin" || u.role === "client_admin") && writable();
/** Whether the caller may write at all (false for users of a suspended tenant). */
export const canWrite = () => writable();

/** The caller's own tenant (tenant roles), to show the suspended banner and use its zone. */
export const ownTenant = computed(() => {
  const u = user.value;
  return u?.tenant_id ? (tenants.value.find((t) => t.id === u.tenant_id) ?? null) : null;
});

export const timeZone = computed(() => {
  const id = user.value?.tenant_id ?? tenantFilter.value;
  return tenants.value.find((t) => t.id === id)?.time_zone ?? DEFAULT_TIME_ZONE;
});
