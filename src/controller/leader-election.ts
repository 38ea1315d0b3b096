import type { KubeApi } from '../kube/api.ts';
import { apiStatusCode } from '../kube/client.ts';
import { formatMicroTime, type Lease } from '../kube/types.ts';
import type { Logger } from '../logger.ts';
import { describeError } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { WriteVerdict } from './fence.ts';
import { delay, TIMED_OUT, within } from '../timeout.ts';

export interface LeaseTimings {
  /** How long a lease holds without renewal; a standby takes over only after it expired. */
  leaseDurationMs: number;
  /** A leader that could not renew for this long steps down, well before anyone else may take over. */
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

export type LeaseDecision = { kind: 'take'; transition: boolean } | { kind: 'renew' } | { kind: 'wait'; holder: string };

/**
 * Pure: may `identity` hold the lease? Expiry is judged, as client-go does, by how long this candidate has seen the
 * same lease record unchanged (`unchangedForMs`, on its own monotonic clock), never by comparing the holder's
 * renewTime with the local wall clock: clock skew between nodes must not make two leaders.
 */
export function decideLease(lease: Lease | undefined, identity: string, unchangedForMs: number): LeaseDecision {
  const holder = lease?.spec?.holderIdentity ?? '';
  if (holder === identity) return { kind: 'renew' };
  if (holder === '') return { kind: 'take', transition: lease !== undefined };
  const durationMs = (lease?.spec?.leaseDurationSeconds ?? 0) * 1000;
  return unchangedForMs > durationMs ? { kind: 'take', transition: true } : { kind: 'wait', holder };
}

type LeaseApi = Pick<KubeApi, 'readLease' | 'createLease' | 'replaceLease'>;
/** `failed` includes a 409: a renewal of ours that timed out may have landed after our read; the next try re-reads. */
type Attempt = 'held' | 'taken by another' | 'failed';

export interface LeaderElectorOptions {
  api: LeaseApi;
  namespace: string;
  name: string;
  identity: string;
  timings?: LeaseTimings;
  logger: Logger;
  metrics: Metrics;
  /** A monotonic clock in ms; tests drive it. */
  monotonicNow?: () => number;
}

/**
 * A coordination.k8s.io Lease held by one replica at a time, as client-go's leader election does: acquire when free
 * or expired, renew every retry period, and step down as soon as another holder shows up or renewals have not
 * succeeded for the renew deadline, hung requests included. Writes carry the resourceVersion read, so two
 * candidates never both win one round.
 */
export class LeaderElector {
  private readonly options: LeaderElectorOptions & { timings: LeaseTimings; monotonicNow: () => number };
  private readonly stopping = new AbortController();
  private leading = false;
  private attempt: Promise<Attempt> | undefined;
  /** Our last write to the lease succeeded: we hold it, whether or not we act as leader yet. */
  private holding = false;
  /** The lease as last read (holder and resourceVersion) and since when, on the monotonic clock, it looked so. */
  private observed: { holder: string; version: string; since: number } | undefined;
  /** Monotonic time at which the last successful acquire or renewal was sent. */
  private renewedAt: number | undefined;

  constructor(options: LeaderElectorOptions) {
    this.options = { timings: DEFAULT_LEASE_TIMINGS, monotonicNow: () => performance.now(), ...options };
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * The fence for writes: leading, and the last successful renewal was sent less than the renew deadline ago on
   * our own monotonic clock. A standby takes over only after seeing the lease unchanged for the whole (longer)
   * lease duration, so a leader frozen (SIGSTOP, a long GC pause) past this point finds it false when it resumes,
   * before its loop has even noticed the loss.
   */
  mayWrite(): WriteVerdict {
    if (!this.leading) return { ok: false, reason: 'not the leader' };
    const sinceRenewalMs = this.options.monotonicNow() - (this.renewedAt ?? Number.NEGATIVE_INFINITY);
    if (sinceRenewalMs >= this.options.timings.renewDeadlineMs) {
      return { ok: false, reason: `lease last renewed ${Math.round(sinceRenewalMs)} ms ago, past the renew deadline` };
    }
    return { ok: true, validForMs: this.options.timings.renewDeadlineMs - sinceRenewalMs };
  }

  /** Resolves once this replica holds the lease; rejects if `stop()` came first. */
  async acquire(): Promise<void> {
    const { logger, identity, timings } = this.options;
    let lastHolder: string | undefined;
    for (;;) {
      const result = await this.tryOnce(timings.leaseDurationMs);
      if (this.stopping.signal.aborted) throw new Error('leader election stopped');
      if (result === 'held') break;
      const holder = this.observed?.holder;
      if (holder !== lastHolder) logger.info('waiting for leadership', { identity, leader: holder });
      lastHolder = holder;
      await delay(timings.retryPeriodMs, this.stopping.signal);
    }
    this.setLeading(true);
    logger.info('became leader', { identity, lease: `${this.options.namespace}/${this.options.name}` });
  }

  /**
   * Renews until stopped, or until leadership is lost: another holder, or no successful renewal for the deadline. A
   * failed renewal (a 409 included) is retried every retry period within the deadline, as client-go does.
   */
  async holdUntilStopped(): Promise<'stopped' | 'lost'> {
    const { timings, logger, monotonicNow } = this.options;
    let lastRenewal = monotonicNow();
    for (;;) {
      try {
        await delay(timings.retryPeriodMs, this.stopping.signal);
      } catch {
        return 'stopped';
      }
      const left = timings.renewDeadlineMs - (monotonicNow() - lastRenewal);
      const result = await this.tryOnce(left);
      if (this.stopping.signal.aborted) return 'stopped';
      if (result === 'held') {
        lastRenewal = monotonicNow();
        continue;
      }
      if (result === 'taken by another' || monotonicNow() - lastRenewal >= timings.renewDeadlineMs) {
        this.setLeading(false);
        logger.error('lost leadership', { reason: result === 'failed' ? 'could not renew the lease in time' : result });
        return 'lost';
      }
    }
  }

  /** Stops campaigning; a leader hands the lease back at once so a standby need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('leader election stopped'));
    // An acquire in flight may still win: wait for it, so a lease won in the last moment is handed back too.
    await this.attempt;
    this.setLeading(false);
    if (!this.holding) return;
    const released = await within(this.release(), this.options.timings.retryPeriodMs);
    if (released === TIMED_OUT) this.options.logger.warn('could not release the lease in time; it will expire');
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    if (!leading) this.renewedAt = undefined;
    this.options.metrics.leader.set(leading ? 1 : 0);
  }

  private async release(): Promise<void> {
    const { api, namespace, name, identity, logger } = this.options;
    try {
      const lease = await this.readLease();
      if (lease?.spec?.holderIdentity !== identity) return;
      await api.replaceLease(namespace, name, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
      logger.info('released the lease', { identity });
    } catch (error) {
      logger.warn('could not release the lease; it will expire', { error: describeError(error) });
    }
  }

  private async readLease(): Promise<Lease | undefined> {
    try {
      return await this.options.api.readLease(this.options.namespace, this.options.name);
    } catch (error) {
      if (apiStatusCode(error) === 404) return undefined;
      throw error;
    }
  }

  /** One acquire-or-renew attempt, given up (as failed) after `budgetMs`. */
  private async tryOnce(budgetMs: number): Promise<Attempt> {
    const sentAt = this.options.monotonicNow();
    this.attempt = within(this.readAndWrite(), budgetMs).then((result) => {
      const attempt = result === TIMED_OUT ? 'failed' : result;
      this.holding = attempt === 'held';
      if (this.holding) this.renewedAt = sentAt;
      return attempt;
    });
    return this.attempt;
  }

  private async readAndWrite(): Promise<Attempt> {
    const { api, namespace, name, identity, timings, logger } = this.options;
    try {
      const lease = await this.readLease();
      const decision = decideLease(lease, identity, this.unchangedFor(lease));
      if (decision.kind === 'wait') return 'taken by another';
      const now = formatMicroTime(Date.now());
      const spec = {
        ...lease?.spec,
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(timings.leaseDurationMs / 1000),
        renewTime: now,
        ...(decision.kind === 'take'
          ? { acquireTime: now, leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (decision.transition ? 1 : 0) }
          : {}),
      };
      if (lease === undefined) {
        await api.createLease(namespace, { metadata: { name, namespace }, spec });
      } else {
        await api.replaceLease(namespace, name, { ...lease, spec });
      }
      return 'held';
    } catch (error) {
      // 409: the lease changed between our read and write. Another candidate may have won this round, or our own
      // earlier renewal that timed out landed late: only the next read can tell, so it is tried again.
      if (apiStatusCode(error) === 409) {
        logger.info('lease changed while we wrote it; reading it again', { identity });
        return 'failed';
      }
      logger.warn('lease update failed', { identity, error: describeError(error) });
      return 'failed';
    }
  }

  /** How long the lease has looked exactly like this to us; a new holder or renewal restarts the count. */
  private unchangedFor(lease: Lease | undefined): number {
    const now = this.options.monotonicNow();
    const holder = lease?.spec?.holderIdentity ?? '';
    const version = lease?.metadata?.resourceVersion ?? '';
    if (this.observed?.holder !== holder || this.observed.version !== version) this.observed = { holder, version, since: now };
    return now - this.observed.since;
  }
}
