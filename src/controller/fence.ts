import { TIMED_OUT, within } from '../timeout.ts';
import { FencedError, type WriteGuard } from '../sinks/write-guard.ts';

/** May this replica write now, and for how long its lease is still known valid (Infinity without leader election). */
export type WriteVerdict = { ok: true; validForMs: number } | { ok: false; reason: string };

/**
 * Who may write: the leader, only while its lease is known valid, and nobody once stopping has begun. The reconciler
 * checks it right before each write; the manager closes it first thing when it stops.
 */
export class WriteFence {
  private readonly elector: { mayWrite(): WriteVerdict } | undefined;
  private closed = false;

  constructor(elector: { mayWrite(): WriteVerdict } | undefined) {
    this.elector = elector;
  }

  close(): void {
    this.closed = true;
  }

  mayWrite(): WriteVerdict {
    if (this.closed) return { ok: false, reason: 'shutting down' };
    return this.elector?.mayWrite() ?? { ok: true, validForMs: Number.POSITIVE_INFINITY };
  }
}

export function guardWrites(mayWrite: () => WriteVerdict): WriteGuard {
  return async (request) => {
    const verdict = mayWrite();
    if (!verdict.ok) throw new FencedError(verdict.reason);
    if (!Number.isFinite(verdict.validForMs)) return request();
    const result = await within(request(), verdict.validForMs);
    if (result === TIMED_OUT)
      throw new FencedError(`the lease ran out after ${Math.round(verdict.validForMs)} ms with the request in flight`);
    return result;
  };
}
