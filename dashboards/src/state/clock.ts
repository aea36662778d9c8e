// One shared clock for every "hace 3 min" on screen: one timer, not one per row.
import { signal } from "@preact/signals";

export const now = signal(Date.now());
setInterval(() => {
  now.value = Date.now();
}, 15_000);
