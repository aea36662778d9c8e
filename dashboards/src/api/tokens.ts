// Where the session's tokens live: memory, mirrored in sessionStorage so a reload of the wall
// keeps the login (a closed tab forgets it). Listeners hear every change (the socket renews on it).
import type { LoginResponse, User } from "./types";

const KEY = "centinela.session";

interface Stored {
  access: string;
  refresh: string;
  expiresAt: number;
  user: User;
}

let current: Stored | null = load();
const listeners = new Set<(s: Stored | null) => void>();

function load(): Stored | null {
  try {
    const raw = globalThis.sessionStorage?.getItem(KEY);
    return raw ? (JSON.parse(raw) as Stored) : null;
  } catch {
    return null;
  }
}

function save() {
  try {
    if (current) globalThis.sessionStorage?.setItem(KEY, JSON.stringify(current));
    else globalThis.sessionStorage?.removeItem(KEY);
  } catch {
    // Storage may be unavailable (private mode); the session then lives in memory only.
  }
  listeners.forEach((l) => l(current));
}

export const tokens = {
  access: () => current?.access ?? null,
  refresh: () => current?.refresh ?? null,
  expiresAt: () => current?.expiresAt ?? 0,
  user: () => current?.user ?? null,
  store(login: LoginResponse) {
    current = {
      access: login.access_token,
      refresh: login.refresh_token,
      expiresAt: Date.now() + login.expires_in * 1000,
      user: login.user,
    };
    save();
  },
  clear() {
    current = null;
    save();
  },
  subscribe(listener: (s: Stored | null) => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
