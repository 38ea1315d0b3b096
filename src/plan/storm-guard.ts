/**
 * Rollout storm guard: at most one restart per `minIntervalMs`. The first change rolls at once; changes inside the
 * window wait for its end and then roll once, with whatever set is current by then. Times are monotonic ms.
 */
export type RestartTiming = { kind: 'now' } | { kind: 'defer'; waitMs: number };

export function restartTiming(lastRestartAt: number | undefined, now: number, minIntervalMs: number): RestartTiming {
  if (lastRestartAt === undefined) return { kind: 'now' };
  const waitMs = lastRestartAt + minIntervalMs - now;
  return waitMs > 0 ? { kind: 'defer', waitMs } : { kind: 'now' };
}
