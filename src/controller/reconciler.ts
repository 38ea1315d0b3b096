import type { ConfigMap, Deployment } from '../kube/types.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics, ReconcileOutcome } from '../metrics.ts';
import { observeRevert, trackReverts, NO_REVERTS, type RevertState } from '../plan/revert-guard.ts';
import { ANNOTATIONS_MAX_BYTES, annotationsSizeWith, CONFIGMAP_MAX_BYTES, configMapSizeWith } from '../plan/size-guard.ts';
import { restartTiming } from '../plan/storm-guard.ts';
import type { ConfigMapWriter } from '../sinks/configmap-writer.ts';
import type { DeploymentRestarter } from '../sinks/deployment-restarter.ts';
import { FencedError } from '../sinks/write-guard.ts';
import type { Notifier } from '../sinks/mattermost-notifier.ts';
import { decide, type ObservedState, type Plan } from '../plan/decide.ts';
import { PENDING_REMOVALS_ANNOTATION } from '../plan/pending-annotation.ts';
import { CONFIGMAP_ANNOTATIONS, configMapAnnotations, ENDPOINTS_HASH_ANNOTATION, publishedHash, rolledHash } from '../plan/published.ts';
import type { DesiredHosts } from './desired-hosts.ts';
import { freshest, type OwnWrite } from './own-writes.ts';

export interface ObjectCache<T> {
  get(): T | undefined;
  hasSynced(): boolean;
}

export interface ReconcilerOptions {
  config: Pick<
    Config,
    'storePort' | 'outputFormat' | 'restartMode' | 'configMapKey' | 'dryRun' | 'restartMinIntervalMs' | 'restartRevertLimit'
  > &
    Partial<Pick<Config, 'endpointSettings'>>;
  desired: DesiredHosts;
  configMaps: ObjectCache<ConfigMap>;
  deployments: ObjectCache<Deployment>;
  writer: ConfigMapWriter;
  restarter: DeploymentRestarter;
  notifier: Notifier;
  metrics: Metrics;
  logger: Logger;
  /**
   * Checked right before every write: false once this replica may no longer act (its lease is not known to be
   * valid, or it is stopping). A leader frozen past its lease must not write when it resumes.
   */
  mayWrite?: () => { ok: true } | { ok: false; reason: string };
  /** Monotonic ms, for the storm and revert guards; tests drive it. */
  monotonicNow?: () => number;
}

const REVERT_WINDOW_MS = 3_600_000;

/** One level-based pass: read the caches and the desired hosts, decide purely, carry the plan out through the sinks. */
export class Reconciler {
  private readonly options: ReconcilerOptions;
  private readonly now: () => number;
  private lastRestartAt: number | undefined;
  private lastPatchedHash: string | undefined;
  private reverts: RevertState = NO_REVERTS;
  /** Our last writes as the API server answered them: read instead of a cache that has not caught up with them. */
  private ownConfigMap: OwnWrite<ConfigMap> | undefined;
  private ownDeployment: OwnWrite<Deployment> | undefined;
  /** The pass in flight's way to ask for another (passes never overlap: the queue runs one at a time). */
  private requeueAfter: (ms: number) => void = () => {};

  constructor(options: ReconcilerOptions) {
    this.options = options;
    this.now = options.monotonicNow ?? (() => performance.now());
  }

  /**
   * One pass; `requeueAfter` asks for another after `ms` (a restart deferred by the storm guard), as controller-runtime's
   * Result.RequeueAfter does.
   */
  async reconcile(requeueAfter: (ms: number) => void = () => {}): Promise<ReconcileOutcome> {
    const { metrics, logger } = this.options;
    this.requeueAfter = requeueAfter;
    const stopTimer = metrics.reconcileDuration.startTimer();
    let outcome: ReconcileOutcome = 'error';
    try {
      outcome = await this.pass();
      return outcome;
    } catch (error) {
      if (error instanceof FencedError) {
        outcome = 'fenced';
        logger.warn('reconcile pass stopped before a write', { reason: error.message });
        return outcome;
      }
      this.options.notifier.notify({ title: 'Thanos store discovery failed to update Kubernetes', error });
      throw error;
    } finally {
      stopTimer({ outcome });
      metrics.reconciles.inc({ outcome });
    }
  }

  private async pass(): Promise<ReconcileOutcome> {
    const { config, configMaps, deployments, logger } = this.options;
    if (!configMaps.hasSynced() || !deployments.hasSynced()) return 'waiting';
    // A read that came before the ConfigMap cache synced is seeded now, from what is really published.
    this.options.desired.applyUnseededRead();
    // Once per pass: the decision compares it with the published annotation, and the write carries the same text.
    const pendingRemovals = this.options.desired.pendingRemovals();
    const plan = decide({
      desiredHosts: this.options.desired.get(),
      port: config.storePort,
      format: config.outputFormat,
      restartMode: config.restartMode,
      observed: this.observe(),
      pendingRemovals,
      settings: config.endpointSettings,
    });
    const emptyRead = this.options.desired.lastReadWasEmpty();
    switch (plan.kind) {
      case 'wait':
        logger.debug('waiting', { reason: plan.reason });
        return 'waiting';
      case 'skip-empty':
        return 'skipped_empty';
      case 'converge':
        // Still converge on the last non-empty set: a ConfigMap deleted meanwhile is restored, never emptied.
        if (!(await this.converge(plan, { countsAsSync: !emptyRead, pendingRemovals }))) return 'refused_oversize';
        return emptyRead ? 'skipped_empty' : 'success';
    }
  }

  private configMap(): ConfigMap | undefined {
    return freshest(this.options.configMaps.get(), this.ownConfigMap);
  }

  private deployment(): Deployment | undefined {
    return freshest(this.options.deployments.get(), this.ownDeployment);
  }

  private observe(): ObservedState {
    const configMap = this.configMap();
    const deployment = this.deployment();
    return {
      configMap: configMap
        ? {
            exists: true,
            text: configMap.data?.[this.options.config.configMapKey],
            hashAnnotation: publishedHash(configMap),
            pendingAnnotation: configMap.metadata?.annotations?.[PENDING_REMOVALS_ANNOTATION],
          }
        : { exists: false },
      deployment: deployment ? { exists: true, hashAnnotation: rolledHash(deployment) } : { exists: false },
    };
  }

  /** False when the ConfigMap would not fit: nothing was written or restarted. */
  private async converge(
    plan: Extract<Plan, { kind: 'converge' }>,
    { countsAsSync, pendingRemovals }: { countsAsSync: boolean; pendingRemovals: string },
  ): Promise<boolean> {
    const { config, logger, metrics } = this.options;
    const fields = { endpoints: plan.endpoints.length, added: plan.added, removed: plan.removed, hash: plan.hash };

    if (plan.configMap.kind !== 'none') {
      const action = plan.configMap;
      const before = this.configMap();
      const ours = configMapAnnotations(plan.hash, pendingRemovals);
      if (!this.fits(before, plan, ours)) return false;
      if (action.kind === 'update' && action.reason === 'unreadable') {
        logger.warn('ConfigMap content is unreadable, replacing it', { detail: action.detail });
      }
      if (config.dryRun) {
        logger.info('dry run: would write ConfigMap', { ...fields, action: action.kind, text: plan.text });
      } else {
        this.fence();
        const { outcome, written } = await this.options.writer.write({
          existing: before,
          key: config.configMapKey,
          text: plan.text,
          annotations: ours,
        });
        const replacedVersion = before?.metadata?.resourceVersion;
        if (replacedVersion !== undefined) this.ownConfigMap = { replacedVersion, written };
        logger.info('ConfigMap written', { ...fields, outcome, reason: action.kind === 'update' ? action.reason : 'missing' });
      }
    }

    await this.restart(plan, fields);
    if (!config.dryRun) metrics.endpoints.set(plan.endpoints.length);
    // Not while reads come back empty: the staleness alert on this gauge must fire then.
    if (countsAsSync) metrics.lastSuccessfulSync.setToCurrentTime();
    return true;
  }

  /**
   * The size guard: a list that would not fit in a ConfigMap, or annotations over Kubernetes' total, are refused
   * before the write (which would fail with 422 on every pass), and the last list stays published.
   */
  private fits(existing: ConfigMap | undefined, plan: Extract<Plan, { kind: 'converge' }>, ours: Record<string, string>): boolean {
    const { config, metrics, logger, notifier } = this.options;
    const bytes = configMapSizeWith(existing, config.configMapKey, plan.text);
    const annotationBytes = annotationsSizeWith(existing?.metadata?.annotations, ours, CONFIGMAP_ANNOTATIONS);
    metrics.configMapBytes.set(bytes);
    if (bytes <= CONFIGMAP_MAX_BYTES && annotationBytes <= ANNOTATIONS_MAX_BYTES) return true;
    metrics.configMapOversize.inc();
    const message =
      bytes > CONFIGMAP_MAX_BYTES
        ? `the list of ${plan.endpoints.length} endpoints needs ${bytes} bytes, over the ${CONFIGMAP_MAX_BYTES}-byte ConfigMap limit; the last list stays published`
        : `the ConfigMap's annotations would need ${annotationBytes} bytes, over Kubernetes' ${ANNOTATIONS_MAX_BYTES}-byte total ` +
          `(ours take ${annotationsSizeWith(undefined, ours, [])}); the last list stays published`;
    logger.error(message, { endpoints: plan.endpoints.length, bytes, annotationBytes });
    notifier.notify({ title: 'Thanos store discovery cannot publish the endpoint list', error: message });
    return false;
  }

  private async restart(plan: Extract<Plan, { kind: 'converge' }>, fields: Record<string, unknown>): Promise<void> {
    const { config, logger, metrics } = this.options;
    if (plan.restart.kind !== 'patch') {
      if (plan.restart.reason === 'up to date') this.noteReverts('in place');
      metrics.restartDeferred.set(0);
      if (plan.restart.reason === 'deployment missing' && plan.configMap.kind !== 'none') {
        logger.warn('Thanos Deployment not found: ConfigMap kept current, restart deferred until it exists', fields);
      }
      return;
    }
    if (this.reverts.stopped) return;
    if (config.dryRun) {
      logger.info('dry run: would patch the Deployment pod template', fields);
      return;
    }
    const timing = restartTiming(this.lastRestartAt, this.now(), config.restartMinIntervalMs);
    if (timing.kind === 'defer') {
      metrics.restartDeferred.set(1);
      logger.info('restart deferred by the minimum interval between restarts', { ...fields, waitMs: Math.round(timing.waitMs) });
      this.requeueAfter(timing.waitMs);
      return;
    }
    metrics.restartDeferred.set(0);
    const seenVersion = this.deployment()?.metadata?.resourceVersion;
    this.fence();
    // The revert guard judges the Deployment as the API server holds it right before the patch, never a lagging cache.
    const outcome = await this.options.restarter.restart(plan, (live) => {
      this.noteReverts(observeRevert(this.lastPatchedHash, plan.hash, rolledHash(live)));
      return !this.reverts.stopped;
    });
    if (outcome.kind === 'missing' || outcome.kind === 'held back') return;
    if (seenVersion !== undefined) this.ownDeployment = { replacedVersion: seenVersion, written: outcome.deployment };
    if (outcome.kind === 'in place') return;
    this.lastRestartAt = this.now();
    this.lastPatchedHash = plan.hash;
  }

  /** The GitOps guard: counts reverts of our annotation and stops patching after too many within an hour. */
  private noteReverts(observation: ReturnType<typeof observeRevert>): void {
    const { metrics, logger, notifier, config } = this.options;
    const wasStopped = this.reverts.stopped;
    this.reverts = trackReverts(this.reverts, observation, this.now(), {
      maxReverts: config.restartRevertLimit,
      windowMs: REVERT_WINDOW_MS,
    });
    if (observation === 'reverted') {
      metrics.restartReverts.inc();
      logger.warn('our endpoints-hash annotation was reverted on the Deployment by someone else', { reverts: this.reverts.reverts.length });
    }
    metrics.restartFightStopped.set(this.reverts.stopped ? 1 : 0);
    if (this.reverts.stopped && !wasStopped) {
      const message =
        `the pod-template annotation ${ENDPOINTS_HASH_ANNOTATION} was reverted ${this.reverts.reverts.length} times within an hour ` +
        '(a GitOps tool self-healing the Deployment?); restarts are suspended until the annotation is left in place. ' +
        'Ignore the annotation in the GitOps tool, or use RESTART_MODE=none with a directory mount';
      logger.error(message);
      notifier.notify({ title: 'Thanos store discovery stopped restarting Thanos', error: message });
    } else if (!this.reverts.stopped && wasStopped) {
      logger.info('our endpoints-hash annotation is in place again; restarts resume');
    }
  }

  private fence(): void {
    const verdict = this.options.mayWrite?.() ?? { ok: true };
    if (!verdict.ok) throw new FencedError(verdict.reason);
  }
}
