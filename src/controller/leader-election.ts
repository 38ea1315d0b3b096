import { setTimeout as sleep } from 'node:timers/promises';
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../logger.ts';
import { describeError } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { apiStatusCode } from '../sinks/errors.ts';

export interface LeaseTimings {
  /** How long a lease holds without renewal; a standby takes over only after it expired. */
  leaseDurationMs: number;
  /** A leader that could not renew for this long steps down, before anyone else may take over. */
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

export type LeaseDecision = { kind: 'take'; transition: boolean } | { kind: 'renew' } | { kind: 'wait'; holder: string };

/** Pure: may `identity` hold the lease at `now`? Expiry is judged on the renew time the lease carries. */
export function decideLease(lease: V1Lease | undefined, identity: string, now: number): LeaseDecision {
  const holder = lease?.spec?.holderIdentity ?? '';
  if (holder === identity) return { kind: 'renew' };
  if (holder === '') return { kind: 'take', transition: lease !== undefined };
  const renewed = lease?.spec?.renewTime?.getTime() ?? 0;
  const durationMs = (lease?.spec?.leaseDurationSeconds ?? 0) * 1000;
  return renewed + durationMs < now ? { kind: 'take', transition: true } : { kind: 'wait', holder };
}

type LeaseApi = Pick<CoordinationV1Api, 'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'>;

export interface LeaderElectorOptions {
  coordination: LeaseApi;
  namespace: string;
  name: string;
  identity: string;
  timings?: LeaseTimings;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
}

/**
 * A coordination.k8s.io Lease held by one replica at a time, as client-go's leader election does: acquire when free
 * or expired, renew every retry period, and report the loss when renewals fail past the renew deadline. Writes
 * carry the resourceVersion read, so two candidates never both win.
 */
export class LeaderElector {
  private readonly options: LeaderElectorOptions & { timings: LeaseTimings; now: () => number };
  private readonly stopping = new AbortController();
  private leading = false;

  constructor(options: LeaderElectorOptions) {
    this.options = { timings: DEFAULT_LEASE_TIMINGS, now: Date.now, ...options };
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this replica holds the lease; rejects with the abort reason if `stop()` came first. */
  async acquire(): Promise<void> {
    const { logger, identity, timings } = this.options;
    let lastHolder: string | undefined;
    while (!(await this.tryOnce())) {
      const holder = (await this.readLease().catch(() => undefined))?.spec?.holderIdentity;
      if (holder !== lastHolder) logger.info('waiting for leadership', { identity, leader: holder });
      lastHolder = holder;
      await sleep(timings.retryPeriodMs, undefined, { signal: this.stopping.signal });
    }
    this.leading = true;
    this.options.metrics.leader.set(1);
    logger.info('became leader', { identity, lease: `${this.options.namespace}/${this.options.name}` });
  }

  /** Renews until stopped, or until renewals failed for the renew deadline: then leadership is lost. */
  async holdUntilStopped(): Promise<'stopped' | 'lost'> {
    const { timings, logger } = this.options;
    let lastRenewal = this.options.now();
    while (!this.stopping.signal.aborted) {
      try {
        await sleep(timings.retryPeriodMs, undefined, { signal: this.stopping.signal });
      } catch {
        return 'stopped';
      }
      if (await this.tryOnce()) {
        lastRenewal = this.options.now();
      } else if (this.options.now() - lastRenewal > timings.renewDeadlineMs) {
        this.leading = false;
        this.options.metrics.leader.set(0);
        logger.error('lost leadership: could not renew the lease in time', { renewDeadlineMs: timings.renewDeadlineMs });
        return 'lost';
      }
    }
    return 'stopped';
  }

  /** Stops campaigning; a leader hands the lease back at once so a standby need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('leader election stopped'));
    if (!this.leading) return;
    this.leading = false;
    this.options.metrics.leader.set(0);
    try {
      const lease = await this.readLease();
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      await this.options.coordination.replaceNamespacedLease({
        namespace: this.options.namespace,
        name: this.options.name,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      });
      this.options.logger.info('released the lease', { identity: this.options.identity });
    } catch (error) {
      this.options.logger.warn('could not release the lease; it will expire', { error: describeError(error) });
    }
  }

  private async readLease(): Promise<V1Lease | undefined> {
    try {
      return await this.options.coordination.readNamespacedLease({ namespace: this.options.namespace, name: this.options.name });
    } catch (error) {
      if (apiStatusCode(error) === 404) return undefined;
      throw error;
    }
  }

  /** One acquire-or-renew attempt; false when another holds the lease, someone wrote first, or the API failed. */
  private async tryOnce(): Promise<boolean> {
    const { coordination, namespace, name, identity, timings, logger } = this.options;
    try {
      const lease = await this.readLease();
      const now = this.options.now();
      const decision = decideLease(lease, identity, now);
      if (decision.kind === 'wait') return false;
      const spec = {
        ...lease?.spec,
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(timings.leaseDurationMs / 1000),
        renewTime: new V1MicroTime(now),
        ...(decision.kind === 'take'
          ? {
              acquireTime: new V1MicroTime(now),
              leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (decision.transition ? 1 : 0),
            }
          : {}),
      };
      if (lease === undefined) {
        await coordination.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } });
      } else {
        await coordination.replaceNamespacedLease({ namespace, name, body: { ...lease, spec } });
      }
      return true;
    } catch (error) {
      // 409: another candidate wrote between our read and write; it won this round.
      if (apiStatusCode(error) !== 409) logger.warn('lease update failed', { identity, error: describeError(error) });
      return false;
    }
  }
}
