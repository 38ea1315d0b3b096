/** What a delivery asks of the outbox: nothing more, or another try at `retryAt` (epoch ms). */
export type Delivery = { retryAt?: number };

export interface OutboxOptions<T> {
  /** Entries held at most, retries included; a push beyond drops the oldest. */
  capacity: number;
  /** Sends one entry; must settle soon after `signal` aborts, and never reject. On a `lastTry` a retry is ignored. */
  deliver: (item: T, attempt: { signal: AbortSignal; lastTry: boolean }) => Promise<Delivery>;
  /** An entry that will never be delivered: pushed out by a newer one, or still queued when stop gave up. */
  onDrop: (item: T) => void;
}

interface Entry<T> {
  item: T;
  notBefore: number;
}

/**
 * A bounded queue drained by one sender, one delivery at a time. `push` never waits, so whoever reports a problem
 * is never held up by the channel it is reported to. Started on the first push; stopped once, for good.
 */
export class Outbox<T> {
  private readonly options: OutboxOptions<T>;
  private entries: Entry<T>[] = [];
  private draining: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private stopping = false;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(options: OutboxOptions<T>) {
    this.options = options;
  }

  push(item: T): void {
    if (this.stopped) {
      this.options.onDrop(item);
      return;
    }
    this.enqueue({ item, notBefore: 0 });
    this.draining ??= this.drain();
    this.wake?.();
  }

  /** Delivers what is queued for at most `deadlineMs` (retries are due at once, and not rescheduled), then drops the rest. */
  async stop(deadlineMs: number): Promise<void> {
    if (this.stopping) return this.draining;
    this.stopping = true;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
    await Promise.race([this.draining, deadline]);
    clearTimeout(timer);
    this.stopped = true;
    this.abort.abort(new Error('the alert outbox was stopped'));
    const left = this.entries;
    this.entries = [];
    for (const entry of left) this.options.onDrop(entry.item);
    this.wake?.();
    await this.draining;
  }

  private enqueue(entry: Entry<T>): void {
    if (this.entries.length >= this.options.capacity) this.options.onDrop(this.entries.shift()!.item);
    this.entries.push(entry);
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      const due = this.stopping ? Number.POSITIVE_INFINITY : Date.now();
      const index = this.entries.findIndex((entry) => entry.notBefore <= due);
      if (index >= 0) {
        const [entry] = this.entries.splice(index, 1);
        const { retryAt } = await this.options.deliver(entry!.item, { signal: this.abort.signal, lastTry: this.stopping });
        if (retryAt !== undefined && !this.stopping) this.enqueue({ item: entry!.item, notBefore: retryAt });
        continue;
      }
      if (this.stopping) return;
      await this.idle();
    }
  }

  /** Until a push, a stop, or the earliest retry falls due. */
  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const earliest = Math.min(...this.entries.map((entry) => entry.notBefore));
      const timer = Number.isFinite(earliest) ? setTimeout(() => this.wake?.(), Math.max(0, earliest - Date.now())) : undefined;
      // A retry waiting here must not keep the process alive: exits go through stop().
      timer?.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
