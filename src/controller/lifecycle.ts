import type { CheckResult, Heartbeat } from '../health.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { WriteFence, WriteVerdict } from './fence.ts';

export interface Elector {
  acquire(): Promise<void>;
  holdUntilStopped(): Promise<'stopped' | 'lost'>;
  stop(): Promise<void>;
  isLeader(): boolean;
  mayWrite(): WriteVerdict;
}

export interface LifecycleParts {
  /** Absent without leader election: this replica always leads. */
  elector: Elector | undefined;
  fence: WriteFence;
  poller: { start(): void; stop(): Promise<void> };
  queue: { stop(): Promise<void> };
  /** Informers and the HTTP server: stopped last, together. */
  closeAll: () => Promise<unknown>;
  heartbeat: Heartbeat;
  /** What else readiness needs (informers synced, watches fresh, a first poll): checked in order. */
  readiness: readonly (() => CheckResult)[];
  hasDesired: () => boolean;
  /**
   * Runs each time this replica starts leading: what only the leader checks and reports (the consumer check) must be
   * judged afresh by a new leader, or a problem seen by the old one reads as resolved after a failover.
   */
  onLeading?: () => void;
  shutdownDeadlineMs: number;
  /** Called when the orderly stop overran its deadline (production: exit at once). */
  onDeadline: () => void;
  logger: Logger;
  metrics: Metrics;
}

export type Ending = { reason: 'signal'; signal: string } | { reason: 'leadership lost' };

/**
 * The controller's lifecycle policy, apart from its wiring: who polls (the leader), what the probes mean for a leader
 * and a standby, and the order of an orderly stop.
 */
export class Lifecycle {
  private readonly parts: LifecycleParts;

  constructor(parts: LifecycleParts) {
    this.parts = parts;
  }

  private isStandby(): boolean {
    return this.parts.elector !== undefined && !this.parts.elector.isLeader();
  }

  /** Liveness: a standby never polls, so the poll heartbeat says nothing about it. */
  healthz(): CheckResult {
    return this.isStandby() ? { ok: true } : this.parts.heartbeat.check();
  }

  /** Readiness: the given checks, then a first poll for the leader; a standby is ready once its caches are warm. */
  readyz(): CheckResult {
    for (const check of this.parts.readiness) {
      const result = check();
      if (!result.ok) return result;
    }
    if (this.parts.hasDesired() || this.isStandby()) return { ok: true };
    return { ok: false, reason: 'no successful Route53 poll yet' };
  }

  /** Leads (or waits to) until `signalled` settles or leadership is lost, then stops in order. Resolves the exit code. */
  async run(signalled: Promise<string>): Promise<Ending> {
    const { logger } = this.parts;
    const ending = await Promise.race([this.lead(), signalled.then((signal): Ending => ({ reason: 'signal', signal }))]);
    logger.info('shutting down', ending.reason === 'signal' ? { signal: ending.signal } : { reason: ending.reason });
    await this.stop();
    return ending;
  }

  private async lead(): Promise<Ending> {
    const { elector, poller, metrics, heartbeat } = this.parts;
    const forever = new Promise<never>(() => {});
    if (!elector) {
      metrics.leader.set(1);
      poller.start();
      this.parts.onLeading?.();
      return forever;
    }
    try {
      await elector.acquire();
    } catch {
      return forever; // stopped by a signal before winning
    }
    heartbeat.beat();
    poller.start();
    this.parts.onLeading?.();
    return (await elector.holdUntilStopped()) === 'lost' ? { reason: 'leadership lost' } : forever;
  }

  /**
   * Order matters: fence writes first (a pass in flight stops before its next write), no new polls, let the pass in
   * flight finish so no write is cut in half, hand the lease back, then close the caches and the server.
   */
  private async stop(): Promise<void> {
    const { poller, queue, elector, closeAll, logger, shutdownDeadlineMs, onDeadline, fence } = this.parts;
    fence.close();
    const deadline = setTimeout(() => {
      logger.error('shutdown did not finish in time, exiting', { deadlineMs: shutdownDeadlineMs });
      onDeadline();
    }, shutdownDeadlineMs);
    deadline.unref();
    try {
      await poller.stop();
      await queue.stop();
      await elector?.stop();
      await closeAll();
      logger.info('stopped');
    } finally {
      clearTimeout(deadline);
    }
  }
}
