// Pure helpers of the ticket form (unit-tested without a browser).

export interface CategoryRow {
  id: string;
  name: string;
  parent_id?: string | null;
  requires_approval: boolean;
}

/** Categories as options: parents first, each followed by its subcategories as `Padre / Hija`. */
export function categoryOptions(rows: CategoryRow[]): { id: string; label: string; approval: boolean }[] {
  const parents = rows.filter((c) => !c.parent_id).sort((a, b) => a.name.localeCompare(b.name, "es"));
  return parents.flatMap((p) => [
    { id: p.id, label: p.name, approval: p.requires_approval },
    ...rows
      .filter((c) => c.parent_id === p.id)
      .sort((a, b) => a.name.localeCompare(b.name, "es"))
      .map((c) => ({ id: c.id, label: `${p.name} / ${c.name}`, approval: c.requires_approval || p.requires_approval })),
  ]);
}

/** The additional e-mails field: addresses separated by commas, semicolons or spaces. */
export const splitEmails = (text: string) =>
  text
    .split(/[,;\s]+/)
    .map((e) => e.trim())
    .filter(Boolean);

