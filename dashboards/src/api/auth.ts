import { call, http } from "./client";
import { tokens } from "./tokens";
import type { Meta, User } from "./types";

export async function login(email: string, password: string): Promise<User> {
  const res = await call(() => http.POST("/api/auth/login", { body: { email, password } }));
  tokens.store(res);
  return res.user;
}

export async function logout(): Promise<void> {
  try {
    await http.POST("/api/auth/logout");
  } finally {
    tokens.clear();
  }
}

/** Demo mode and its accounts come from the server, so the bundle carries no credentials. */
export async function meta(): Promise<Meta> {
  const { data, response } = await http.GET("/api/meta");
  if (!response.ok || !data) return { demo: false, accounts: [] };
  // The server sends `accounts` only in demo mode.
  return { ...data, accounts: data.accounts ?? [] };
}
