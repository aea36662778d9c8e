import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/live/backoff";
import { FrameBatcher } from "../../src/live/batcher";

describe("FrameBatcher", () => {
  it("applies queued events once per frame, in order", () => {
    const frames: (() => void)[] = [];
    const batches: number[][] = [];
    const b = new FrameBatcher<number>((batch) => batches.push(batch), 100, (cb) => frames.push(cb));
    b.push(1);
    b.push(2);
    b.push(3);
    expect(frames).toHaveLength(1);
    expect(batches).toEqual([]);
    frames[0]!();
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it("flushes at once past the limit", () => {
    const batches: number[][] = [];
    const b = new FrameBatcher<number>((batch) => batches.push(batch), 3, () => undefined);
    [1, 2, 3, 4].forEach((n) => b.push(n));
    expect(batches).toEqual([[1, 2, 3]]);
  });
});

describe("backoffDelay", () => {
  it("doubles up to the cap with bounded jitter", () => {
    const mid = () => 0.5;
    expect(backoffDelay(0, 1000, 30000, mid)).toBe(1000);
    expect(backoffDelay(3, 1000, 30000, mid)).toBe(8000);
    expect(backoffDelay(20, 1000, 30000, mid)).toBe(30000);
    expect(backoffDelay(0, 1000, 30000, () => 0)).toBe(800);
    expect(backoffDelay(0, 1000, 30000, () => 1)).toBe(1200);
  });
});
