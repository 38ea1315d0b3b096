export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** Capped exponential backoff: `baseMs` after the first failure in a row, doubling with each one after, at most `maxMs`. */
export function backoffMs(failuresInARow: number, { baseMs, maxMs }: Backoff): number {
  return Math.min(maxMs, baseMs * 2 ** (failuresInARow - 1));
}
