import { setTimeout as sleep } from 'node:timers/promises';
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics, ReconcileOutcome } from '../metrics.ts';
import type { ConfigMapWriter } from '../sinks/configmap-writer.ts';
import { ENDPOINTS_HASH_ANNOTATION, type DeploymentRestarter } from '../sinks/deployment-restarter.ts';
import type { Notifier } from '../sinks/mattermost-notifier.ts';
import { decide, type ObservedState, type Plan } from './decide.ts';

export interface ObjectCache<T> {
  get(): T | undefined;
  hasSynced(): boolean;
}

/**
 * What the last successful Route53 read says should be published; the poller writes it, each pass reads it
 * (level-based, not event payloads). A read that finds nothing is far likelier a broken zone or permissions than
 * every cluster gone: it keeps the last non-empty set, so repairs go on from it, and is flagged so each pass warns.
 */
export class DesiredHosts {
  private hosts: readonly string[] | undefined;
  private lastReadEmpty = false;
  set(hosts: readonly string[]): void {
    this.lastReadEmpty = hosts.length === 0;
    if (!this.lastReadEmpty || this.hosts === undefined) this.hosts = [...hosts];
  }
  get(): readonly string[] | undefined {
    return this.hosts;
  }
  lastReadWasEmpty(): boolean {
    return this.lastReadEmpty;
  }
}

export interface ReconcilerOptions {
  config: Pick<Config, 'storePort' | 'outputFormat' | 'restartMode' | 'configMapKey' | 'dryRun'> & Partial<Pick<Config, 'endpointSettings'>>;
  desired: DesiredHosts;
  configMaps: ObjectCache<V1ConfigMap>;
  deployments: ObjectCache<V1Deployment>;
  writer: ConfigMapWriter;
  restarter: DeploymentRestarter;
  notifier: Notifier;
  metrics: Metrics;
  logger: Logger;
  /** How long a pass waits for its own write to reach the informer cache, so the next pass does not repeat it. */
  cacheCatchUpMs?: number;
}

/** One level-based pass: read the caches and the desired hosts, decide purely, carry the plan out through the sinks. */
export class Reconciler {
  private readonly options: ReconcilerOptions;

  constructor(options: ReconcilerOptions) {
    this.options = options;
  }

  async reconcile(): Promise<ReconcileOutcome> {
    const { metrics } = this.options;
    const stopTimer = metrics.reconcileDuration.startTimer();
    let outcome: ReconcileOutcome = 'error';
    try {
      outcome = await this.pass();
      return outcome;
    } catch (error) {
      await this.options.notifier.notify({ title: 'Thanos store discovery failed to update Kubernetes', error });
      throw error;
    } finally {
      stopTimer({ outcome });
      metrics.reconciles.inc({ outcome });
    }
  }

  private async pass(): Promise<ReconcileOutcome> {
    const { config, configMaps, deployments, logger } = this.options;
    if (!configMaps.hasSynced() || !deployments.hasSynced()) return 'waiting';
    const plan = decide({
      desiredHosts: this.options.desired.get(),
      port: config.storePort,
      format: config.outputFormat,
      restartMode: config.restartMode,
      observed: this.observe(),
      settings: config.endpointSettings,
    });
    const emptyRead = this.options.desired.lastReadWasEmpty();
    if (emptyRead) await this.reportEmptyRead(plan.kind === 'converge' ? plan.endpoints.length : 0);
    switch (plan.kind) {
      case 'wait':
        logger.debug('waiting', { reason: plan.reason });
        return 'waiting';
      case 'skip-empty':
        return 'skipped_empty';
      case 'converge':
        // Still converge on the last non-empty set: a ConfigMap deleted meanwhile is restored, never emptied.
        await this.converge(plan, { countsAsSync: !emptyRead });
        return emptyRead ? 'skipped_empty' : 'success';
    }
  }

  private observe(): ObservedState {
    const configMap = this.options.configMaps.get();
    const deployment = this.options.deployments.get();
    return {
      configMap: configMap
        ? {
            exists: true,
            text: configMap.data?.[this.options.config.configMapKey],
            hashAnnotation: configMap.metadata?.annotations?.[ENDPOINTS_HASH_ANNOTATION],
          }
        : { exists: false },
      deployment: deployment
        ? { exists: true, hashAnnotation: podTemplateHash(deployment) }
        : { exists: false },
    };
  }

  private async reportEmptyRead(kept: number): Promise<void> {
    const { metrics, logger, notifier } = this.options;
    metrics.emptyResults.inc();
    const message = `Route53 returned no matching record; the last non-empty list (${kept} endpoints) is kept`;
    logger.warn(message, { endpoints: kept });
    await notifier.notify({ title: 'Thanos store discovery found no endpoints', error: message });
  }

  private async converge(plan: Extract<Plan, { kind: 'converge' }>, { countsAsSync }: { countsAsSync: boolean }): Promise<void> {
    const { config, logger, metrics } = this.options;
    const fields = { endpoints: plan.endpoints.length, added: plan.added, removed: plan.removed, hash: plan.hash };

    if (plan.configMap.kind !== 'none') {
      const action = plan.configMap;
      if (action.kind === 'update' && action.reason === 'unreadable') {
        logger.warn('ConfigMap content is unreadable, replacing it', { detail: action.detail });
      }
      if (config.dryRun) {
        logger.info('dry run: would write ConfigMap', { ...fields, action: action.kind, text: plan.text });
      } else {
        const before = this.options.configMaps.get();
        const outcome = await this.options.writer.write({
          existing: before,
          key: config.configMapKey,
          text: plan.text,
          annotations: { [ENDPOINTS_HASH_ANNOTATION]: plan.hash },
        });
        logger.info('ConfigMap written', { ...fields, outcome, reason: action.kind === 'update' ? action.reason : 'missing' });
        await this.waitForCache(() => this.options.configMaps.get() !== before);
      }
    }

    if (plan.restart.kind === 'patch') {
      if (config.dryRun) {
        logger.info('dry run: would patch the Deployment pod template', fields);
      } else if ((await this.options.restarter.restart(plan)) === 'patched') {
        // Only we write this annotation, so waiting for it exactly is safe; a stale status event does not count.
        await this.waitForCache(() => {
          const deployment = this.options.deployments.get();
          return deployment === undefined || podTemplateHash(deployment) === plan.hash;
        });
      }
    } else if (plan.restart.reason === 'deployment missing' && plan.configMap.kind !== 'none') {
      logger.warn('Thanos Deployment not found: ConfigMap kept current, restart deferred until it exists', fields);
    }

    if (!config.dryRun) metrics.endpoints.set(plan.endpoints.length);
    // Not while reads come back empty: the staleness alert on this gauge must fire then.
    if (countsAsSync) metrics.lastSuccessfulSync.setToCurrentTime();
  }

  /**
   * Writes reach the cache through the watch a moment later; waiting here keeps the next pass from repeating them.
   * For the ConfigMap any change of the cached object counts (the informer replaces it on every event): waiting for
   * our exact content would sit out the whole timeout when a hand edit or delete lands right after our write.
   */
  private async waitForCache(caughtUp: () => boolean): Promise<void> {
    const deadline = Date.now() + (this.options.cacheCatchUpMs ?? 2_000);
    while (!caughtUp() && Date.now() < deadline) await sleep(20);
  }
}

function podTemplateHash(deployment: V1Deployment): string | undefined {
  return deployment.spec?.template?.metadata?.annotations?.[ENDPOINTS_HASH_ANNOTATION];
}
