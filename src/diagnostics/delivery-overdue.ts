import type { DeliveryComparison, EndpointDelivery } from './delivery-compare.ts';

/** A published endpoint Thanos does not use (unseen or unhealthy), and since when it has been so without a break. */
export interface Problem {
  entry: EndpointDelivery;
  since: number;
}

/**
 * Carries each problem's start time from one check to the next: a problem lasts while the endpoint stays unseen or
 * unhealthy (either, even when it moves between the two), and ends the first time it is healthy or unpublished.
 * `overdue` are those older than `afterMs`, the ones worth an Event and an alert.
 */
export function trackProblems(
  previous: ReadonlyMap<string, number>,
  comparison: DeliveryComparison,
  now: number,
  afterMs: number,
): { since: Map<string, number>; overdue: Problem[] } {
  const since = new Map<string, number>();
  const overdue: Problem[] = [];
  for (const entry of comparison.endpoints) {
    if (entry.state !== 'unseen' && entry.state !== 'unhealthy') continue;
    const start = previous.get(entry.endpoint) ?? now;
    since.set(entry.endpoint, start);
    if (now - start >= afterMs) overdue.push({ entry, since: start });
  }
  return { since, overdue };
}

/** One line per overdue endpoint, stable while the problem is (no times in it), so the alert dedupes. */
export function describeProblems(problems: readonly Problem[]): string {
  return problems
    .map(({ entry }) => {
      const where = entry.sources.map((s) => (s.lastError ? `${s.source}: ${s.lastError}` : s.source)).join('; ');
      return `${entry.endpoint} ${entry.state === 'unseen' ? 'not known to' : 'unhealthy in'} Thanos Query (${where})`;
    })
    .join('\n');
}
