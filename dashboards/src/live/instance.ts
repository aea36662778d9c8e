// The app's one socket, for views that watch devices (set by app.tsx once logged in).
import type { NocSocket } from "./socket";

let current: NocSocket | null = null;
export const setNoc = (s: NocSocket | null) => {
  current = s;
};
export const noc = () => current;
