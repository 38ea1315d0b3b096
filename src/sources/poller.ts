import { describeError, type Logger } from '../logger.ts';
import type { Route53ReadResult } from './route53-reader.ts';

export interface PollerOptions {
  read: (signal: AbortSignal) => Promise<Route53ReadResult>;
  intervalMs: number;
  onResult: (result: Route53ReadResult) => void;
  onError: (error: unknown) => void;
  logger: Logger;
}

/**
 * How long the poll loop may stay silent before liveness fails. A poll may spend its whole retry budget before it
 * reports (six requests of up to 20 s plus backoff: about 2.2 minutes); silence beyond that means the loop is wedged.
 */
export function pollSilenceBudgetMs(intervalMs: number): number {
  return 3 * intervalMs + 180_000;
}

/**
 * Runs `read` every `intervalMs`, measured from the start of one poll to the start of the next. Polls never overlap:
 * one that outlasts the interval is followed straight after it ends. After `stop()` no callback is called.
 */
export class Poller {
  readonly #options: PollerOptions;
  readonly #stopping = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #started = false;
  // The end of the last queued poll; every poll is chained behind it, which is what keeps them from overlapping.
  #tail: Promise<void> = Promise.resolve();

  constructor(options: PollerOptions) {
    this.#options = options;
  }

  /** Polls now, then on the interval, handing results to `onResult` and failures to `onError`. */
  start(): void {
    if (this.#started || this.#stopping.signal.aborted) throw new Error('a poller can be started once, before stop()');
    this.#started = true;
    this.#schedule(0);
  }

  /** One poll whose result or failure goes to the caller rather than the callbacks (one-shot mode). */
  pollOnce(): Promise<Route53ReadResult> {
    return this.#exclusive(() => this.#read());
  }

  /** Stops the timer, aborts the poll in flight (its backoff waits end early) and resolves once it has finished. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error('poller stopped'));
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#tail;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    const started = performance.now();
    await this.#exclusive(() => this.#pollIntoCallbacks());
    if (this.#stopping.signal.aborted) return;
    this.#schedule(Math.max(0, this.#options.intervalMs - (performance.now() - started)));
  }

  async #pollIntoCallbacks(): Promise<void> {
    const { onResult, onError, logger } = this.#options;
    let result: Route53ReadResult;
    try {
      result = await this.#read();
    } catch (error) {
      if (this.#stopping.signal.aborted) {
        logger.debug('poll ended by stop', { error: describeError(error) });
        return;
      }
      this.#callSafely('onError', () => onError(error));
      return;
    }
    if (this.#stopping.signal.aborted) return;
    this.#callSafely('onResult', () => onResult(result));
  }

  #read(): Promise<Route53ReadResult> {
    const signal = this.#stopping.signal;
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return this.#options.read(signal);
  }

  // A throwing callback is a bug in its owner; logging it keeps the poller alive.
  #callSafely(callback: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#options.logger.error('poller callback threw', { callback, error: describeError(error) });
    }
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
