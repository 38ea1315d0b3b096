import type { Logger } from '../logger.ts';
import { backoffMs, type Backoff } from './backoff.ts';
import { describeError } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

export interface WorkQueueOptions {
  /** One reconcile pass; a rejection schedules a retry with backoff, `requeueAfter` asks for a pass in `ms`. */
  handler: (requeueAfter: (ms: number) => void) => Promise<unknown>;
  metrics: Metrics;
  logger: Logger;
  /** Least time between two passes, so a burst of events becomes one pass. */
  minIntervalMs?: number;
  backoff?: Backoff;
  random?: () => number;
}

/**
 * A work queue for the single key this controller has ("converge the ConfigMap"): requests arriving while a pass
 * waits or runs coalesce into at most one more pass, and failures retry with capped exponential backoff and jitter,
 * as client-go's rate-limited queue does for one key.
 */
export class WorkQueue {
  private readonly options: Required<Omit<WorkQueueOptions, 'metrics' | 'logger' | 'handler'>> &
    Pick<WorkQueueOptions, 'metrics' | 'logger' | 'handler'>;
  private pending = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delayed: { timer: NodeJS.Timeout; at: number } | undefined;
  private stopped = false;
  private failures = 0;
  private notBefore = 0;

  constructor(options: WorkQueueOptions) {
    this.options = {
      minIntervalMs: 100,
      backoff: { baseMs: 500, maxMs: 60_000 },
      random: Math.random,
      ...options,
    };
  }

  add(): void {
    if (this.stopped) return;
    this.pending = true;
    this.options.metrics.workQueueDepth.set(1);
    this.schedule();
  }

  /** Asks for a pass in `ms` (controller-runtime's RequeueAfter); only the earliest of several such requests is kept. */
  addAfter(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    if (this.delayed && this.delayed.at <= at) return;
    clearTimeout(this.delayed?.timer);
    this.delayed = {
      at,
      timer: setTimeout(() => {
        this.delayed = undefined;
        this.add();
      }, ms),
    };
  }

  /** Stops taking work and resolves once the pass in flight, if any, has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.delayed?.timer);
    this.delayed = undefined;
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped || this.running || this.timer || !this.pending) return;
    const delay = Math.max(0, this.notBefore - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, delay);
  }

  private async runOnce(): Promise<void> {
    this.pending = false;
    this.options.metrics.workQueueDepth.set(0);
    const { minIntervalMs, backoff } = this.options;
    try {
      await this.options.handler((ms) => this.addAfter(ms));
      this.failures = 0;
      this.notBefore = Date.now() + minIntervalMs;
    } catch (error) {
      this.failures += 1;
      const ceiling = backoffMs(this.failures, backoff);
      // Full jitter in the upper half: spreads retries without ever retrying immediately.
      const delayMs = Math.round(ceiling / 2 + (this.options.random() * ceiling) / 2);
      this.notBefore = Date.now() + delayMs;
      this.options.metrics.workQueueRetries.inc();
      this.options.logger.warn('reconcile failed, retrying', {
        error: describeError(error),
        attempt: this.failures,
        retryInMs: delayMs,
      });
      if (!this.stopped) {
        this.pending = true;
        this.options.metrics.workQueueDepth.set(1);
      }
    }
  }
}
