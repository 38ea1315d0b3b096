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
