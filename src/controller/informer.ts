import { ListWatch, type KubernetesListObject, type KubernetesObject, type Watch } from '@kubernetes/client-node';
import type { Logger } from '../logger.ts';
import { describeError } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

export interface SingleObjectInformerOptions<T extends KubernetesObject> {
  /** For logs and metrics: `configmap` or `deployment`. */
  resource: string;
  namespace: string;
  name: string;
  /** Collection path, e.g. `/api/v1/namespaces/<ns>/configmaps`; the watch is narrowed to `name`. */
  path: string;
  list: (fieldSelector: string) => Promise<KubernetesListObject<T>>;
  watch: Watch;
  onChange: () => void;
  logger: Logger;
  metrics: Metrics;
  /** A full relist this often (jittered), in case a watch went quiet without an error. */
  resyncMs?: number;
  backoff?: { baseMs: number; maxMs: number };
}

/**
 * Caches one named object through client-node's ListWatch, and keeps it alive: client-node restarts a watch by
 * itself only after `410 Gone` and timeouts and stops on any other error, so every error here rebuilds the
 * ListWatch after a backoff, and a periodic rebuild relists as a safety net. The previous cache keeps answering
 * until its replacement has listed, so a reconnect never looks like a deletion.
 */
export class SingleObjectInformer<T extends KubernetesObject> {
  private readonly options: SingleObjectInformerOptions<T>;
  private current: ListWatch<T> | undefined;
  private synced = false;
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;

  constructor(options: SingleObjectInformerOptions<T>) {
    this.options = options;
  }

  /** True once a list has succeeded; stays true through reconnects, since the cache is kept. */
  hasSynced(): boolean {
    return this.synced;
  }

  get(): T | undefined {
    return this.current?.get(this.options.name, this.options.namespace);
  }

  /** Resolves after the first attempt to list and watch, successful or not (a failure schedules a retry). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.rebuildOrRetry('start');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current?.stop();
  }

  private async rebuild(why: 'start' | 'restart' | 'resync'): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const { path, namespace, name, watch, resource } = this.options;
    const fieldSelector = `metadata.name=${name}`;
    let failed = false;
    const candidate = new ListWatch<T>(path, watch, () => this.options.list(fieldSelector), false, undefined, fieldSelector);
    const isCurrent = () => this.current === candidate;
    candidate.on('change', () => {
      if (isCurrent()) this.options.onChange();
    });
    candidate.on('error', (error: unknown) => {
      failed = true;
      void candidate.stop();
      if (isCurrent() || generation === this.generation) this.onError(error, generation);
    });
    this.count(why);
    await candidate.start();
    if (failed || this.stopped || generation !== this.generation) {
      if (!isCurrent()) await candidate.stop();
      return;
    }
    const previous = this.current;
    this.current = candidate;
    await previous?.stop();
    this.failures = 0;
    if (!this.synced) this.options.logger.info('informer synced', { resource, namespace, name });
    this.synced = true;
    this.count('connect');
    // The world may have changed while we were not watching: let the reconciler look again.
    this.options.onChange();
    this.scheduleResync();
  }

  /** client-node's watch can throw before it reports (e.g. a credential that fails to load): treat it as an error. */
  private rebuildOrRetry(why: 'start' | 'restart' | 'resync'): Promise<void> {
    return this.rebuild(why).catch((error: unknown) => this.onError(error, this.generation));
  }

  private onError(error: unknown, generation: number): void {
    if (this.stopped || generation !== this.generation) return;
    this.failures += 1;
    const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 500, maxMs: 30_000 };
    const delayMs = Math.min(maxMs, baseMs * 2 ** (this.failures - 1));
    this.count('error');
    this.options.logger.warn('informer lost its watch, rebuilding', {
      resource: this.options.resource,
      error: describeError(error),
      attempt: this.failures,
      retryInMs: delayMs,
    });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.rebuildOrRetry('restart'), delayMs);
  }

  private scheduleResync(): void {
    const resyncMs = this.options.resyncMs ?? 5 * 60_000;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.rebuildOrRetry('resync'), resyncMs * (0.9 + Math.random() * 0.2));
    this.timer.unref();
  }

  private count(event: string): void {
    this.options.metrics.informerEvents.inc({ resource: this.options.resource, event });
  }
}
