import type { CheckResult } from '../health.ts';
import type { Logger } from '../logger.ts';
import { backoffMs } from './backoff.ts';
import { describeError } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { apiStatusCode } from '../kube/client.ts';
import type { ObjectList } from '../kube/types.ts';
import type { WatchFn } from '../kube/watch.ts';

/** The parts of a Kubernetes object the informer reads. */
export interface WatchedObject {
  metadata?: { name?: string; resourceVersion?: string; uid?: string; labels?: object; annotations?: object };
}

export interface SingleObjectInformerOptions<T extends WatchedObject> {
  /** For logs and metrics: `configmap` or `deployment`. */
  resource: string;
  namespace: string;
  name: string;
  /** Collection path, e.g. `/api/v1/namespaces/<ns>/configmaps`; list and watch are narrowed to `name`. */
  path: string;
  list: (fieldSelector: string) => Promise<ObjectList<T>>;
  watch: WatchFn;
  logger: Logger;
  metrics: Metrics;
  timing?: Partial<InformerTiming>;
  random?: () => number;
}

export interface InformerTiming {
  /** Server-side watch length, drawn anew for each watch so replicas do not reconnect in step. */
  watchMinSeconds: number;
  watchMaxSeconds: number;
  /** No event (bookmarks included, about one a minute) for this long: the watch is dead, open a new one. */
  inactivityMs: number;
  /** Nothing heard from the API for this long (failed watches and lists, ERROR events): `check()` fails. */
  maxStalenessMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_INFORMER_TIMING: InformerTiming = {
  watchMinSeconds: 300,
  watchMaxSeconds: 600,
  inactivityMs: 150_000,
  maxStalenessMs: 300_000,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
};

// A watch that ends sooner than this having delivered nothing is a failure, as client-go's reflector counts it: a
// proxy that does not stream, or a server that closes at once, must back off rather than be reopened in a loop.
const SHORT_WATCH_MS = 1_000;

/** A watch answered `410 Gone`: the resourceVersion we resume from is compacted away, only a relist helps. */
class ResourceVersionExpired extends Error {
  override readonly name = 'ResourceVersionExpired';
}

/** The watch ended within SHORT_WATCH_MS with no event. */
class ShortWatch extends Error {
  override readonly name = 'ShortWatch';
}

/** The ERROR event of a watch: the Status the server sent in place of an object. */
function watchError(object: unknown): Error {
  const status = (typeof object === 'object' && object !== null ? object : {}) as { code?: unknown; message?: unknown };
  const message = typeof status.message === 'string' ? status.message : JSON.stringify(object);
  const code = typeof status.code === 'number' ? ` ${status.code}` : '';
  return status.code === 410 ? new ResourceVersionExpired(message) : new Error(`watch error${code}: ${message}`);
}

/** One watch request: when it began (monotonic ms) and how many events it delivered. */
interface Stream {
  generation: number;
  startedAt: number;
  events: number;
  abort?: () => void;
}

/**
 * Caches one named object by list-then-watch, as client-go's reflector does: long server-side watches with
 * bookmarks, each resumed from the last resourceVersion seen (no relist while the apiserver still has it), a relist
 * only after `410 Gone`, and an inactivity deadline longer than the bookmark interval so a silently dead connection
 * is replaced. The cache keeps answering through reconnects, so a reconnect never looks like a deletion. Only events
 * that can change a decision call `onChange`: a Deployment status update does not start a pass.
 *
 * client-go's reflector rules hold too: a watch that ends within a second with no event, an ERROR event and a 410 are
 * failures, backed off alike (a relist included); an ERROR event is no sign of life (it refreshes neither the
 * backoff nor the staleness clock); the stream's callbacks never abort or open a request themselves (that waits until
 * the client's handler has returned); and an exception from `onChange` or any callback is caught, logged and
 * counted. Staleness is measured on the monotonic clock: a wall-clock step cannot fail `/readyz`.
 */
export class SingleObjectInformer<T extends WatchedObject> {
  private readonly options: SingleObjectInformerOptions<T>;
  private readonly timing: InformerTiming;
  private object: T | undefined;
  private objectKey: string | undefined;
  private resourceVersion: string | undefined;
  private synced = false;
  private stopped = true;
  private failures = 0;
  // performance.now(): monotonic milliseconds.
  private lastHeard = performance.now();
  private retryTimer: NodeJS.Timeout | undefined;
  private inactivityTimer: NodeJS.Timeout | undefined;
  private abortWatch: (() => void) | undefined;
  // Each watch gets a number; callbacks of a watch that is no longer the current one are ignored.
  private generation = 0;
  private readonly listeners: (() => void)[] = [];

  constructor(options: SingleObjectInformerOptions<T>) {
    this.options = options;
    this.timing = { ...DEFAULT_INFORMER_TIMING, ...options.timing };
    options.metrics.watchStaleness(options.resource, () => this.stalenessSeconds());
  }

  /**
   * Calls `listener` after each change a decision can depend on (client-go's AddEventHandler): the queue, and the
   * diagnostics, each subscribe to what they need once they exist.
   */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** True once a list has succeeded; stays true through reconnects, since the cache is kept. */
  hasSynced(): boolean {
    return this.synced;
  }

  get(): T | undefined {
    return this.object;
  }

  /** Seconds since the API last answered this informer (a list, a watch event or bookmark, a watch's normal end). */
  stalenessSeconds(): number {
    return (performance.now() - this.lastHeard) / 1000;
  }

  /** For `/readyz`: synced, and not serving a cache the API has not confirmed for longer than allowed. */
  check(): CheckResult {
    const { resource } = this.options;
    if (!this.synced) return { ok: false, reason: `${resource} informer not synced` };
    const staleMs = performance.now() - this.lastHeard;
    if (staleMs > this.timing.maxStalenessMs) {
      return { ok: false, reason: `${resource} informer has not heard from the Kubernetes API for ${Math.round(staleMs / 1000)}s` };
    }
    return { ok: true };
  }

  /** Resolves after the first list, successful or not (a failure schedules a retry). */
  async start(): Promise<void> {
    this.stopped = false;
    this.lastHeard = performance.now();
    await this.listAndWatch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.endWatch();
  }

  private async listAndWatch(): Promise<void> {
    const generation = ++this.generation;
    this.count('list');
    let list: ObjectList<T>;
    try {
      list = await this.options.list(this.fieldSelector());
    } catch (error) {
      if (generation === this.generation) this.onFailure(error, false);
      return;
    }
    if (this.stopped || generation !== this.generation) return;
    // The API answered: the cache is fresh. The backoff waits for a watch that works (a 410 loop keeps growing it).
    this.lastHeard = performance.now();
    this.resourceVersion = list.metadata?.resourceVersion;
    const first = !this.synced;
    this.synced = true;
    if (first)
      this.options.logger.info('informer synced', {
        resource: this.options.resource,
        namespace: this.options.namespace,
        name: this.options.name,
      });
    // The first list always starts a pass; a relist only when it found something the watch missed.
    if (this.store(list.items.find((item) => item.metadata?.name === this.options.name)) || first) this.notify();
    await this.startWatch();
  }

  private async startWatch(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const { watchMinSeconds, watchMaxSeconds } = this.timing;
    const random = this.options.random ?? Math.random;
    const timeoutSeconds = Math.floor(watchMinSeconds + random() * (watchMaxSeconds - watchMinSeconds));
    const stream: Stream = { generation, startedAt: performance.now(), events: 0 };
    this.count('watch');
    this.armInactivity(generation);
    let controller: AbortController;
    try {
      controller = await this.options.watch.watch(
        this.options.path,
        { fieldSelector: this.fieldSelector(), resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        (type, object) =>
          this.guarded('watch event', () => {
            if (stream.generation === this.generation) this.onEvent(type, object, stream);
          }),
        (error) =>
          this.guarded('watch end', () => {
            if (stream.generation === this.generation) this.endStream(stream, error);
          }),
      );
    } catch (error) {
      // Opening may fail before the stream exists (a credential that fails to load, a refused connection).
      if (generation === this.generation) this.onFailure(error, false);
      return;
    }
    stream.abort = () => controller.abort();
    if (generation === this.generation) this.abortWatch = stream.abort;
    else controller.abort();
  }

  private onEvent(type: string, object: unknown, stream: Stream): void {
    if (type === 'ERROR') {
      this.endStream(stream, watchError(object));
      return;
    }
    stream.events += 1;
    this.heard();
    this.armInactivity(stream.generation);
    const item = object as T;
    const resourceVersion = item.metadata?.resourceVersion;
    if (resourceVersion !== undefined) this.resourceVersion = resourceVersion;
    if (type === 'BOOKMARK') return;
    if (item.metadata?.name !== this.options.name) return;
    if (this.store(type === 'DELETED' ? undefined : item)) this.notify();
  }

  /**
   * The stream is over (the server ended it, it failed, or it sent an ERROR event). Called from inside the client's
   * stream handlers, so it only marks the stream done; closing it and what follows run once that handler has returned.
   */
  private endStream(stream: Stream, error: unknown): void {
    this.generation++;
    clearTimeout(this.inactivityTimer);
    queueMicrotask(() => this.guarded('watch end', () => this.afterStream(stream, error)));
  }

  private afterStream(stream: Stream, error: unknown): void {
    stream.abort?.();
    if (this.abortWatch === stream.abort) this.abortWatch = undefined;
    if (this.stopped || stream.generation + 1 !== this.generation) return;
    if (!error && stream.events === 0 && performance.now() - stream.startedAt < SHORT_WATCH_MS) {
      error = new ShortWatch(`the watch ended within ${SHORT_WATCH_MS} ms with no event`);
    }
    if (error) {
      this.onFailure(error, error instanceof ResourceVersionExpired || apiStatusCode(error) === 410);
      return;
    }
    // The server's timeoutSeconds ran out: a normal end.
    this.heard();
    void this.startWatch();
  }

  /** Retries after a backoff that doubles with each failure in a row: the watch, or with `relist` (410) the list. */
  private onFailure(error: unknown, relist: boolean): void {
    if (this.stopped) return;
    this.endWatch();
    this.failures += 1;
    const delayMs = backoffMs(this.failures, { baseMs: this.timing.backoffBaseMs, maxMs: this.timing.backoffMaxMs });
    const fields = { resource: this.options.resource, attempt: this.failures, retryInMs: delayMs };
    if (relist) {
      this.count('expired');
      this.options.logger.info('watch resourceVersion expired, relisting', fields);
    } else {
      this.count('error');
      this.options.logger.warn('informer lost its watch, rebuilding', {
        ...fields,
        error: describeError(error),
        staleSeconds: Math.round(this.stalenessSeconds()),
      });
    }
    clearTimeout(this.retryTimer);
    // Never synced or expired: list again. Otherwise resume the watch; a 410 from it leads to the relist.
    this.retryTimer = setTimeout(() => void (relist || !this.synced ? this.listAndWatch() : this.startWatch()), delayMs);
  }

  private armInactivity(generation: number): void {
    clearTimeout(this.inactivityTimer);
    this.inactivityTimer = setTimeout(() => {
      if (generation !== this.generation) return;
      this.count('inactive');
      this.options.logger.warn('watch went quiet past the bookmark interval, reconnecting', {
        resource: this.options.resource,
        quietMs: this.timing.inactivityMs,
      });
      this.generation++;
      this.endWatch();
      void this.startWatch();
    }, this.timing.inactivityMs);
    this.inactivityTimer.unref();
  }

  private endWatch(): void {
    clearTimeout(this.inactivityTimer);
    this.abortWatch?.();
    this.abortWatch = undefined;
  }

  /** Stores the object; true when it differs from the cached one in anything a decision can depend on. */
  private store(object: T | undefined): boolean {
    this.object = object;
    const key = object === undefined ? undefined : decisionKey(object);
    const changed = key !== this.objectKey;
    this.objectKey = key;
    return changed;
  }

  /** A watch event (not ERROR) or a watch's normal end: the API is fresh and the watch works. */
  private heard(): void {
    this.lastHeard = performance.now();
    this.failures = 0;
  }

  private notify(): void {
    for (const listener of this.listeners) this.guarded('onChange', listener);
  }

  /** Runs a callback; what it throws is logged and counted, never passed on to the client's stream or the loop. */
  private guarded(callback: string, run: () => unknown): void {
    try {
      run();
    } catch (error) {
      this.count('callback_error');
      this.options.logger.error('informer callback failed', { resource: this.options.resource, callback, error: describeError(error) });
    }
  }

  private fieldSelector(): string {
    return `metadata.name=${this.options.name}`;
  }

  private count(event: string): void {
    this.options.metrics.informerEvents.inc({ resource: this.options.resource, event });
  }
}

/**
 * What a decision can depend on: identity, labels, annotations and desired state (`spec`, `data`). Status and
 * bookkeeping (resourceVersion, generation, managedFields) are left out, so a status-only update is no change.
 */
export function decisionKey(object: WatchedObject & { spec?: unknown; data?: unknown; binaryData?: unknown }): string {
  const { uid, labels, annotations } = object.metadata ?? {};
  return JSON.stringify([uid, labels, annotations, object.spec, object.data, object.binaryData]);
}
