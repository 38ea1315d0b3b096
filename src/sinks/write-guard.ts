import { TIMED_OUT, within } from '../timeout.ts';

/** May this replica write now, and for how long its lease is still known valid (Infinity without leader election). */
export type WriteVerdict = { ok: true; validForMs: number } | { ok: false; reason: string };

/** A write was about to happen, or was still in flight, without a valid lease (or while stopping). */
export class FencedError extends Error {
  constructor(reason: string) {
    super(`write skipped: ${reason}`);
    this.name = 'FencedError';
  }
}

/**
 * Runs one request of a write. Checked before every request, since one write may be several (create, then apply on
 * a 409), and each request is given up once the lease it started under may have passed to another replica.
 */
export type WriteGuard = <T>(request: () => Promise<T>) => Promise<T>;

export const UNGUARDED: WriteGuard = (request) => request();

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
