// The one owner of `/ws/noc`: authenticates with the token as first message, renews it before
// expiry, reconnects with backoff and resyncs (buffer events, load the REST snapshot, replay the
// buffer, then apply live). Close codes (docs/api.md): 4001 token expired, 4002 login session
// ended (back to the login page), 4003 renewal refused, 1008 no valid authentication.
import { signal } from "@preact/signals";
import { renew } from "../api/client";
import { tokens } from "../api/tokens";
import { backoffDelay } from "./backoff";
import { isControl, parseFrame, type NocEvent } from "./events";

export type SocketStatus = "connecting" | "live" | "reconnecting" | "ended";

export interface NocHandlers {
  /** Loads the REST snapshot; events that arrive meanwhile are replayed after it. */
  resync: () => Promise<void>;
  /** Receives every event after the snapshot, in arrival order. */
  onEvent: (event: NocEvent) => void;
  /** The login session ended (4002) or could not be renewed: the app goes to the login page. */
  onSessionEnded: () => void;
}

const RENEW_BEFORE_MS = 60_000;
/** The hub drops events for a session that falls behind, without telling it: a periodic
 * resync bounds how long a missed event can stay wrong on the wall. */
const RESYNC_EVERY_MS = 5 * 60_000;

export class NocSocket {
  readonly status = signal<SocketStatus>("connecting");
  private ws: WebSocket | null = null;
  private attempt = 0;
  private buffering: NocEvent[] | null = null;
  private watched: string[] = [];
  private renewTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private resyncTimer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  /** Set by `ready`: before it, anything but the auth message would be refused. */
  private authed = false;

  constructor(private readonly handlers: NocHandlers) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    this.ws?.close(1000, "bye");
    this.ws = null;
    this.status.value = "ended";
  }

  /** Live metrics for these devices (the server keeps the latest set). */
  watch(deviceIds: string[]): void {
    this.watched = deviceIds;
    this.send({ type: "subscribe", device_ids: deviceIds });
  }

  private open(): void {
    const token = tokens.access();
    if (!token) {
      this.handlers.onSessionEnded();
      return;
    }
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws/noc`);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", access_token: tokens.access() }));
    this.authed = false;
    ws.onmessage = (m) => this.receive(typeof m.data === "string" ? m.data : "");
    ws.onclose = (e) => this.closed(ws, e.code);
  }

  private receive(text: string): void {
    const frame = parseFrame(text);
    if (!frame) return;
    if (!isControl(frame)) {
      if (this.buffering) this.buffering.push(frame);
      else this.handlers.onEvent(frame);
      return;
    }
    if (frame.type === "ready") void this.ready();
    if (frame.type === "renewed") this.scheduleRenewal();
  }

  private async ready(): Promise<void> {
    this.authed = true;
    this.attempt = 0;
    this.scheduleRenewal();
    if (this.watched.length) this.send({ type: "subscribe", device_ids: this.watched });
    clearInterval(this.resyncTimer);
    this.resyncTimer = setInterval(() => void this.refresh(), RESYNC_EVERY_MS);
    await this.refresh();
  }

  /** Snapshot, then changes: events that arrive while the snapshot loads are replayed after it. */
  private async refresh(): Promise<void> {
    if (this.buffering) return;
    this.buffering = [];
    try {
      await this.handlers.resync();
    } catch {
      // The wall keeps its last state and applies live events; the next resync retries.
    } finally {
      const replay = this.buffering ?? [];
      this.buffering = null;
      replay.forEach((e) => this.handlers.onEvent(e));
      this.status.value = "live";
    }
  }

  private scheduleRenewal(): void {
    clearTimeout(this.renewTimer);
    const wait = Math.max(1000, tokens.expiresAt() - Date.now() - RENEW_BEFORE_MS);
    this.renewTimer = setTimeout(() => void this.renewNow(), wait);
  }

  private async renewNow(): Promise<void> {
    if (!(await renew())) {
      this.stop();
      this.handlers.onSessionEnded();
      return;
    }
    this.send({ type: "auth", access_token: tokens.access() });
  }

  private async closed(ws: WebSocket, code: number): Promise<void> {
    if (ws !== this.ws || this.stopped) return;
    this.ws = null;
    this.authed = false;
    clearTimeout(this.renewTimer);
    clearInterval(this.resyncTimer);
    if (code === 4002) {
      this.stop();
      this.handlers.onSessionEnded();
      return;
    }
    this.status.value = "reconnecting";
    // An expired, refused or missing token is renewed before the next try.
    if ((code === 4001 || code === 4003 || code === 1008) && !(await renew())) {
      this.stop();
      this.handlers.onSessionEnded();
      return;
    }
    this.retryTimer = setTimeout(() => this.open(), backoffDelay(this.attempt++));
  }

  private send(message: unknown): void {
    if (this.authed && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }
}
