import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { applyPoll, type DesiredState, type RemovalPolicy } from '../plan/desired-set.ts';
import { serialisePending } from '../plan/pending-annotation.ts';
import { EMPTY_WINDOW } from '../plan/removal-window.ts';
import type { Notifier } from '../sinks/mattermost-notifier.ts';

/**
 * What should be published, as the safety rules of `applyPoll` make it from each successful Route53 read. The
 * poller feeds it, each reconcile pass reads it (level-based, not event payloads). It reports each poll's verdict:
 * an empty read, removals waiting for confirmation, a held mass removal.
 */
export class DesiredHosts {
  private state: DesiredState | undefined;
  private lastReadEmpty = false;
  private readonly options: { policy: RemovalPolicy; metrics: Metrics; logger: Logger; notifier: Notifier };

  constructor(options: DesiredHosts['options']) {
    this.options = options;
  }

  /**
   * Applies one successful read. `published` gives what the ConfigMap holds (hosts, and the missing counts of its
   * annotation), the starting point on the first read: a half-broken read right after a restart, a failover or in
   * the next run-once run cannot shrink the list at once, and a removal being confirmed keeps its count.
   */
  update(read: readonly string[], published: () => DesiredState | undefined): void {
    const { metrics, logger, notifier, policy } = this.options;
    const previous = this.state ?? published();
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

  /** Undefined before the first successful read. */
  get(): readonly string[] | undefined {
    return this.state?.hosts;
  }

  lastReadWasEmpty(): boolean {
    return this.lastReadEmpty;
  }

  /** The removal state (missing counts and the removal window), as the ConfigMap annotation carries it. */
  pendingRemovals(): string {
    return serialisePending({ missing: this.state?.missing ?? new Map(), window: this.state?.window ?? EMPTY_WINDOW });
  }
}
