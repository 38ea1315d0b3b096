import type { CheckResult } from '../health.ts';
import type { Logger } from '../logger.ts';
import { describeError } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { apiStatusCode } from '../kube/client.ts';
import type { ObjectList } from '../kube/types.ts';

/** The parts of a Kubernetes object the informer reads. */
export interface WatchedObject {
  metadata?: { name?: string; resourceVersion?: string; uid?: string; labels?: object; annotations?: object };
}

/** A watch (KubeClient.watch): events go to `onEvent`, `done` is called once when the stream ends or fails. */
export interface WatchFn {
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController>;
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
  onChange: () => void;
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
  /** Nothing heard from the API for this long (failed watches and lists): `check()` fails. */
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

/** A watch answered `410 Gone`: the resourceVersion we resume from is compacted away, only a relist helps. */
class ResourceVersionExpired extends Error {
  override readonly name = 'ResourceVersionExpired';
}

/**
 * Caches one named object by list-then-watch, as client-go's reflector does: long server-side watches with
 * bookmarks, each resumed from the last resourceVersion seen (no relist while the apiserver still has it), a relist
 * only after `410 Gone`, and an inactivity deadline longer than the bookmark interval so a silently dead connection
 * is replaced. The cache keeps answering through reconnects, so a reconnect never looks like a deletion. Only events
 * that can change a decision call `onChange`: a Deployment status update does not start a pass.
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
  private lastHeard = Date.now();
  private retryTimer: NodeJS.Timeout | undefined;
  private inactivityTimer: NodeJS.Timeout | undefined;
  private abortWatch: (() => void) | undefined;
  // Each watch gets a number; callbacks of a watch that is no longer the current one are ignored.
  private generation = 0;

  constructor(options: SingleObjectInformerOptions<T>) {
    this.options = options;
    this.timing = { ...DEFAULT_INFORMER_TIMING, ...options.timing };
    options.metrics.watchStaleness(options.resource, () => this.stalenessSeconds());
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
    return (Date.now() - this.lastHeard) / 1000;
  }

  /** For `/readyz`: synced, and not serving a cache the API has not confirmed for longer than allowed. */
  check(): CheckResult {
    const { resource } = this.options;
    if (!this.synced) return { ok: false, reason: `${resource} informer not synced` };
    const staleMs = Date.now() - this.lastHeard;
    if (staleMs > this.timing.maxStalenessMs) {
      return { ok: false, reason: `${resource} informer has not heard from the Kubernetes API for ${Math.round(staleMs / 1000)}s` };
    }
    return { ok: true };
  }

  /** Resolves after the first list, successful or not (a failure schedules a retry). */
  async start(): Promise<void> {
    this.stopped = false;
    this.lastHeard = Date.now();
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
      if (generation === this.generation) this.onFailure(error);
      return;
    }
    if (this.stopped || generation !== this.generation) return;
    this.heard();
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
    if (this.store(list.items.find((item) => item.metadata?.name === this.options.name)) || first) this.options.onChange();
    await this.startWatch();
  }

  private async startWatch(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const { watchMinSeconds, watchMaxSeconds } = this.timing;
    const random = this.options.random ?? Math.random;
    const timeoutSeconds = Math.floor(watchMinSeconds + random() * (watchMaxSeconds - watchMinSeconds));
    this.count('watch');
    this.armInactivity(generation);
    let controller: AbortController;
    try {
      controller = await this.options.watch.watch(
        this.options.path,
        { fieldSelector: this.fieldSelector(), resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        (type, object) => {
          if (generation === this.generation) this.onEvent(type, object, generation);
        },
        (error) => {
          if (generation === this.generation) this.onWatchEnd(error);
        },
      );
    } catch (error) {
      // Opening may fail before the stream exists (a credential that fails to load, a refused connection).
      if (generation === this.generation) this.onFailure(error);
      return;
    }
    if (generation === this.generation) this.abortWatch = () => controller.abort();
    else controller.abort();
  }

  private onEvent(type: string, object: unknown, generation: number): void {
    this.heard();
    this.armInactivity(generation);
    if (type === 'ERROR') {
      const status = object as { code?: number; message?: string } | undefined;
      this.endWatch();
      this.onWatchEnd(
        status?.code === 410
          ? new ResourceVersionExpired(status.message ?? 'resourceVersion expired')
          : new Error(`watch error: ${status?.message ?? JSON.stringify(object)}`),
      );
      return;
    }
    const item = object as T;
    const resourceVersion = item.metadata?.resourceVersion;
    if (resourceVersion !== undefined) this.resourceVersion = resourceVersion;
    if (type === 'BOOKMARK') return;
    if (item.metadata?.name !== this.options.name) return;
    if (this.store(type === 'DELETED' ? undefined : item)) this.options.onChange();
  }

  /** The stream ended: normally when the server-side timeout ran out, or with an error. */
  private onWatchEnd(error: unknown): void {
    this.generation++;
    this.endWatch();
    if (this.stopped) return;
    if (error instanceof ResourceVersionExpired || apiStatusCode(error) === 410) {
      this.count('expired');
      this.options.logger.info('watch resourceVersion expired, relisting', { resource: this.options.resource });
      void this.listAndWatch();
      return;
    }
    if (error) {
      this.onFailure(error);
      return;
    }
    this.heard();
    void this.startWatch();
  }

  private onFailure(error: unknown): void {
    if (this.stopped) return;
    this.endWatch();
    this.failures += 1;
    const delayMs = Math.min(this.timing.backoffMaxMs, this.timing.backoffBaseMs * 2 ** (this.failures - 1));
    this.count('error');
    this.options.logger.warn('informer lost its watch, rebuilding', {
      resource: this.options.resource,
      error: describeError(error),
      attempt: this.failures,
      retryInMs: delayMs,
      staleSeconds: Math.round(this.stalenessSeconds()),
    });
    clearTimeout(this.retryTimer);
    // Never synced: list again. Synced: resume the watch; a 410 from it leads to the relist.
    this.retryTimer = setTimeout(() => void (this.synced ? this.startWatch() : this.listAndWatch()), delayMs);
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

  private heard(): void {
    this.lastHeard = Date.now();
    this.failures = 0;
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
