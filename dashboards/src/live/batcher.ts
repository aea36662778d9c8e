// Events are queued and applied once per animation frame in one batch; past `maxQueued` the
// queue flushes at once so a burst never holds memory or a long frame's worth of work.
export class FrameBatcher<T> {
  private queue: T[] = [];
  private scheduled = false;

  constructor(
    private readonly apply: (batch: T[]) => void,
    private readonly maxQueued = 500,
    private readonly schedule: (cb: () => void) => void = (cb) => requestAnimationFrame(cb),
  ) {}

  push(item: T): void {
    this.queue.push(item);
    if (this.queue.length >= this.maxQueued) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.apply(batch);
  }
}
