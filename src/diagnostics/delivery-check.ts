import type { Deployment, Pod } from '../kube/types.ts';
import type { Endpoint } from '../format/endpoints-file.ts';
import { describeError, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { EventRecorder } from '../sinks/event-recorder.ts';
import type { Notifier } from '../sinks/mattermost-notifier.ts';
import { compareDelivery, countStates, DELIVERY_STATES, type SourceRead } from './delivery-compare.ts';
import { describeProblems, trackProblems, type Problem } from './delivery-overdue.ts';
import { podSelector, podTargets, type Target } from './pod-targets.ts';
import { readStores } from './stores-client.ts';

export const DELIVERY_ALERT_TITLE = 'Thanos Query is not using every published store';

/** Published endpoints Thanos does not use, beyond the alert threshold. */
export class DeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface DeliveryCheckOptions {
  /** The Thanos Query HTTP Service; its port and path are used for each pod too. */
  serviceUrl: string;
  intervalMs: number;
  alertAfterMs: number;
  /** What the ConfigMap publishes now; undefined while there is none (or it cannot be read). */
  published: () => readonly Endpoint[] | undefined;
  deployment: () => Deployment | undefined;
  listPods: (labelSelector: string) => Promise<Pod[]>;
  /** False on a standby replica. */
  active: () => boolean;
  /** True while the published list waits for its rollout (deferred by the storm guard): unseen is then expected. */
  rolloutPending?: () => boolean;
  /** Undefined under DRY_RUN. */
  events: EventRecorder | undefined;
  notifier: Notifier;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
  read?: (source: string, url: string) => Promise<SourceRead>;
}

/**
 * Closes the loop: reads `/api/v1/stores` from every Thanos Query pod after each change and every interval, and
 * compares it with what is published. Exports the states, the time of the last full match, and raises an Event and an
 * alert for a published endpoint that stays unseen or unhealthy longer than `alertAfterMs`.
 */
export class DeliveryCheck {
  private readonly options: DeliveryCheckOptions;
  private readonly now: () => number;
  private problemsSince = new Map<string, number>();
  /** `endpoint state` pairs already given an Event, so each onset gives one. */
  private reported = new Set<string>();
  private matched: boolean | undefined;
  private lastProblems = '';
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: DeliveryCheckOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    for (const state of DELIVERY_STATES) options.metrics.deliveryEndpoints.set({ state }, 0);
  }

  start(): void {
    this.timer = setInterval(() => this.trigger(), this.options.intervalMs);
    this.trigger();
  }

  /** Runs a check soon; calls while one runs fold into one more after it. */
  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.check()
      .catch((error: unknown) => void this.options.logger.error('delivery check failed', { error: describeError(error) }))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.again = false;
    await this.running;
  }

  async check(): Promise<void> {
    const { active, published, metrics, logger } = this.options;
    if (!active()) return;
    const endpoints = published();
    if (endpoints === undefined) return;
    const targets = await this.targets();
    const read = this.options.read ?? ((source: string, url: string) => readStores(source, url));
    const reads = await Promise.all(targets.map((target) => read(target.source, target.url)));
    for (const answer of reads) metrics.deliveryReads.inc({ outcome: answer.ok ? 'success' : 'error' });
    const comparison = compareDelivery(endpoints, reads, { rolloutPending: this.options.rolloutPending?.() ?? false });
    for (const [state, count] of Object.entries(countStates(comparison))) metrics.deliveryEndpoints.set({ state }, count);
    const at = this.now();
    if (comparison.matched) metrics.deliveryLastMatch.set(at / 1000);
    for (const failed of comparison.failedSources) logger.warn('could not read the stores Thanos Query uses', failed);
    if (comparison.matched !== this.matched) {
      const summary = comparison.endpoints.filter((entry) => entry.state !== 'healthy').map(({ endpoint, state }) => ({ endpoint, state }));
      if (comparison.matched) logger.info('Thanos Query uses every published store', { sources: targets.map((t) => t.source) });
      else logger.warn('Thanos Query does not match the published stores', { sources: targets.map((t) => t.source), differences: summary });
      this.matched = comparison.matched;
    }
    const { since, overdue } = trackProblems(this.problemsSince, comparison, at, this.options.alertAfterMs);
    this.problemsSince = since;
    await this.report(overdue);
  }

  private async targets(): Promise<Target[]> {
    const { serviceUrl, deployment, listPods, logger } = this.options;
    const service = [{ source: 'service', url: serviceUrl }];
    const selector = podSelector(deployment());
    if (selector === undefined) return service;
    try {
      const pods = podTargets(await listPods(selector), serviceUrl);
      return pods.length > 0 ? pods : service;
    } catch (error) {
      logger.warn('could not list the Thanos Query pods; reading through the Service only', { error: describeError(error) });
      return service;
    }
  }

  private async report(overdue: readonly Problem[]): Promise<void> {
    const { events, notifier, deployment, logger } = this.options;
    const keys = new Set(overdue.map(({ entry }) => `${entry.endpoint} ${entry.state}`));
    for (const key of this.reported) if (!keys.has(key)) this.reported.delete(key);
    const text = describeProblems(overdue);
    if (text !== this.lastProblems && overdue.length > 0) logger.warn(DELIVERY_ALERT_TITLE, { problems: text.split('\n') });
    this.lastProblems = text;
    if (overdue.length === 0) return;
    notifier.notify({ title: DELIVERY_ALERT_TITLE, error: new DeliveryError(text) });
    const target = deployment();
    for (const problem of overdue) {
      const key = `${problem.entry.endpoint} ${problem.entry.state}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      if (target === undefined || events === undefined) continue;
      const uid = target.metadata?.uid;
      await events.record({
        involved: { kind: 'Deployment', name: target.metadata?.name ?? '', apiVersion: 'apps/v1', ...(uid === undefined ? {} : { uid }) },
        reason: 'StoreNotUsedByThanos',
        message: describeProblems([problem]),
        type: 'Warning',
      });
    }
  }
}
