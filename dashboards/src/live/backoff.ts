/** Reconnect delay: doubling from `base` up to `max`, with ±20 % jitter so walls don't stampede. */
export function backoffDelay(attempt: number, base = 1000, max = 30000, random = Math.random): number {
  const raw = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(raw * (0.8 + 0.4 * random()));
}
