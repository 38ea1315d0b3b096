import { allOf, type CheckResult, type Heartbeat } from '../health.ts';
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

export const EXIT = { ok: 0, failed: 1, badConfig: 2 } as const;

/** Something the manager starts and stops: a check running on its own timer, a poller. */
export interface Runnable {
  start(): void;
  stop(): Promise<unknown>;
}

/** An informer: `start` resolves after its first list; `onChange` subscribes to changes a decision depends on. */
export interface Cache {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  onChange(listener: () => void): void;
}

export interface Probes {
  healthz(): CheckResult;
  readyz(): CheckResult;
}

export interface ManagerParts {
  /** Absent without leader election: this replica always leads. */
  elector: Elector | undefined;
  fence: WriteFence;
  /** Started first; each change asks the queue for a pass. Stopped last. */
  caches: readonly Cache[];
  /** Serves the probes (and metrics) while the caches fill; closed last, with them. */
  serve: (probes: Probes) => Promise<{ close(): Promise<unknown> }>;
  /** What every replica runs once the caches have listed (the delivery check); stopped before the caches. */
  background: readonly Runnable[];
  /** What only the leader runs: the poll loop. */
  poller: Runnable;
  queue: { add(): void; stop(): Promise<void> };
  heartbeat: Heartbeat;
  /** What else readiness needs (informers synced, watches fresh, a first poll): checked in order. */
  readiness: readonly (() => CheckResult)[];
  hasDesired: () => boolean;
  /**
   * Runs each time this replica starts leading: what only the leader checks and reports (the consumer check) must be
   * judged afresh by a new leader, or a problem seen by the old one reads as resolved after a failover.
   */
  onLeading?: () => void;
  /** Last, with the caches and the server: sends the alerts still queued. */
  flush: () => Promise<unknown>;
  /** After everything has stopped: aborts the requests still in flight. */
  abort: () => void;
  shutdownDeadlineMs: number;
  /** Called when the orderly stop overran its deadline (production: exit at once). */
  onDeadline: () => void;
  logger: Logger;
  metrics: Metrics;
}

export type Ending = { reason: 'signal'; signal: string } | { reason: 'leadership lost' };

/** Losing the lease is a failure: the pod restarts and campaigns afresh, as client-go controllers do. */
export function exitCode(ending: Ending): number {
  return ending.reason === 'leadership lost' ? EXIT.failed : EXIT.ok;
}

/**
 * Starts and stops the controller's runnables in order, as controller-runtime's Manager does, and holds the lifecycle
 * policy: who polls (the leader), what the probes mean for a leader and a standby, and the order of an orderly stop.
 */
export class Manager implements Probes {
  private readonly parts: ManagerParts;
  private server: { close(): Promise<unknown> } | undefined;

  constructor(parts: ManagerParts) {
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
    const checked = allOf(this.parts.readiness)();
    if (!checked.ok) return checked;
    if (this.parts.hasDesired() || this.isStandby()) return { ok: true };
    return { ok: false, reason: 'no successful Route53 poll yet' };
  }

  /**
   * Starts the caches and the probes, then (caches listed) the background checks; leads (or waits to) until
   * `signalled` settles or leadership is lost, then stops in order.
   */
  async run(signalled: Promise<string>): Promise<Ending> {
    const { caches, queue, background, logger } = this.parts;
    for (const cache of caches) cache.onChange(() => queue.add());
    const cachesStarted = Promise.all(caches.map((cache) => cache.start()));
    this.server = await this.parts.serve(this);
    await cachesStarted;
    for (const runnable of background) runnable.start();
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
   * flight finish so no write is cut in half, hand the lease back, stop the background checks, then close the caches
   * and the server and send the queued alerts, and last abort what is still in flight.
   */
  private async stop(): Promise<void> {
    const { poller, queue, elector, background, caches, logger, shutdownDeadlineMs, onDeadline, fence } = this.parts;
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
      for (const runnable of background) await runnable.stop();
      await Promise.all([...caches.map((cache) => cache.stop()), this.server?.close(), this.parts.flush()]);
      this.parts.abort();
      logger.info('stopped');
    } finally {
      clearTimeout(deadline);
    }
  }
}
