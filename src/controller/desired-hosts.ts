import { describeError, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { applyPoll, type DesiredState, type RemovalPolicy } from '../plan/desired-set.ts';
import { serialisePending } from '../plan/pending-annotation.ts';
import { EMPTY_WINDOW } from '../plan/removal-window.ts';
import type { Notifier } from '../sinks/mattermost-notifier.ts';

/**
 * Where the first read starts from: what the ConfigMap publishes (hosts, and the removal state of its annotation),
 * known only once the ConfigMap cache has synced. Before that, "nothing published" is not known, only not yet seen.
 */
export interface PublishedSeed {
  synced: () => boolean;
  /** Undefined when the ConfigMap is missing, empty or unreadable. */
  published: () => DesiredState | undefined;
}

/**
 * What should be published, as the safety rules of `applyPoll` make it from each successful Route53 read. The
 * poller feeds it, each reconcile pass reads it (level-based, not event payloads). It reports each poll's verdict:
 * an empty read, removals waiting for confirmation, a held mass removal.
 */
export class DesiredHosts {
  private state: DesiredState | undefined;
  private lastReadEmpty = false;
  // The latest read that came before the ConfigMap cache synced, applied by the first pass on the synced cache.
  private unseededRead: readonly string[] | undefined;
  private readonly options: { policy: RemovalPolicy; seed: PublishedSeed; metrics: Metrics; logger: Logger; notifier: Notifier };

  constructor(options: DesiredHosts['options']) {
    this.options = options;
  }

  /**
   * Applies one successful read. The first read starts from what the ConfigMap publishes, so a half-broken read right
   * after a restart, a failover or in the next run-once run cannot shrink the list at once, and a removal being
   * confirmed keeps its count. Until the ConfigMap cache has synced (an API server that resets or hangs at start-up)
   * there is no such starting point: the read waits for `applyUnseededRead`, never seeded from an empty cache.
   */
  update(read: readonly string[]): void {
    const { seed, logger } = this.options;
    if (this.state === undefined && !seed.synced()) {
      if (this.unseededRead === undefined) logger.info('Route53 read waits until the ConfigMap cache has synced', { hosts: read.length });
      this.unseededRead = read;
      return;
    }
    this.unseededRead = undefined;
    this.apply(read);
  }

  /** Called by a pass once the caches have synced: applies a read that had to wait for the sync. */
  applyUnseededRead(): void {
    if (this.unseededRead === undefined || !this.options.seed.synced()) return;
    const read = this.unseededRead;
    this.unseededRead = undefined;
    this.apply(read);
  }

  private apply(read: readonly string[]): void {
    const { metrics, logger, notifier, policy, seed } = this.options;
    const previous = this.state ?? seed.published();
    const verdict = applyPoll(previous, read, policy);
    this.state = verdict.state;
    this.lastReadEmpty = verdict.emptyRead;
    metrics.removalsPending.set(verdict.pending.length);
    metrics.massRemovalHeld.set(verdict.massRemovalHeld ? 1 : 0);
    const endpoints = verdict.state.hosts.length;
    if (verdict.emptyRead) {
      metrics.emptyResults.inc();
      const message = `Route53 returned no matching record; the last non-empty list (${endpoints} endpoints) is kept`;
      logger.warn(message, { endpoints });
      notifier.notify({ title: 'Thanos store discovery found no endpoints', error: message });
      return;
    }
    if (verdict.massRemovalHeld) {
      const { hosts, lost, reference, share } = verdict.massRemovalHeld;
      const message =
        `${lost} of ${reference} endpoints (${Math.round(share * 100)}%) are gone from Route53 within ${policy.massConfirmPolls} polls, ` +
        `more than the ${Math.round(policy.maxShare * 100)}% allowed at once; the ${hosts} still published stay until missing from ` +
        `${policy.massConfirmPolls} polls in a row`;
      logger.warn(message, { held: hosts, lost, reference, endpoints, pending: verdict.pending.slice(0, 20) });
      notifier.notify({ title: 'Thanos store discovery is holding a large removal', error: message });
    } else if (verdict.pending.length > 0) {
      logger.info('endpoints missing from Route53 stay published until confirmed', {
        pending: verdict.pending.length,
        confirmPolls: policy.confirmPolls,
        hosts: verdict.pending.slice(0, 20),
      });
    }
  }

  /** A failed read changes nothing: the published endpoints are kept, and the failure is logged and alerted. */
  readFailed(error: unknown): void {
    this.options.logger.error('Route53 poll failed; the published endpoints are kept', { error: describeError(error) });
    this.options.notifier.notify({ title: 'Thanos store discovery failed to read Route53', error });
  }

  /** Undefined before the first successful read. */
  get(): readonly string[] | undefined {
    return this.state?.hosts;
  }

  /** What is published now: the set of the last read, or before the first one what the ConfigMap publishes. */
  publishedHosts(): readonly string[] {
    return this.state?.hosts ?? this.options.seed.published()?.hosts ?? [];
  }

  lastReadWasEmpty(): boolean {
    return this.lastReadEmpty;
  }

  /** The removal state (missing counts and the removal window), as the ConfigMap annotation carries it. */
  pendingRemovals(): string {
    return serialisePending({ missing: this.state?.missing ?? new Map(), window: this.state?.window ?? EMPTY_WINDOW });
  }
}
