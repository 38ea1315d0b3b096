import { normaliseEndpoint, type Endpoint } from '../format/endpoints-file.ts';

/**
 * The pure core of the delivery check: what was published against what each Thanos Query pod lists in
 * `/api/v1/stores`. Thanos names a store by the address it was given (`host.:port`), so names compare normalised.
 */

/** One entry of `/api/v1/stores`; an empty or null `lastError` means the last health check passed. */
export interface ListedStore {
  name: string;
  lastError: string | null;
}

/** What one Thanos Query pod (or the Service) answered. */
export type SourceRead = { source: string; ok: true; stores: readonly ListedStore[] } | { source: string; ok: false; error: string };

/**
 * `awaiting_rollout`: unseen while the pods have not been rolled onto the published list yet (a restart the storm
 * guard defers): expected, not a problem.
 */
export type DeliveryState = 'healthy' | 'unhealthy' | 'unseen' | 'awaiting_rollout' | 'unpublished';
export const DELIVERY_STATES: readonly DeliveryState[] = ['healthy', 'unhealthy', 'unseen', 'awaiting_rollout', 'unpublished'];

export interface EndpointDelivery {
  endpoint: Endpoint;
  /** The worst state over the pods read: unseen by one pod outweighs unhealthy in another. */
  state: DeliveryState;
  /** The pods that see it in that state, and Thanos's last error where it has one. */
  sources: { source: string; lastError?: string }[];
}

export interface DeliveryComparison {
  endpoints: EndpointDelivery[];
  failedSources: { source: string; error: string }[];
  /** Every pod answered and each lists exactly the published set, every store healthy. */
  matched: boolean;
}

type ReadState = 'healthy' | 'unhealthy' | 'unseen';
const RANK: Record<ReadState, number> = { healthy: 0, unhealthy: 1, unseen: 2 };

/** `rolloutPending`: the pods are still to be rolled onto the published list, so what they do not list is awaited. */
export function compareDelivery(
  published: readonly Endpoint[],
  reads: readonly SourceRead[],
  { rolloutPending = false }: { rolloutPending?: boolean } = {},
): DeliveryComparison {
  const answered = reads.filter((read) => read.ok);
  const failedSources = reads.flatMap((read) => (read.ok ? [] : [{ source: read.source, error: read.error }]));
  // With no answer there is nothing to say about any endpoint.
  if (answered.length === 0) return { endpoints: [], failedSources, matched: false };
  const wanted = new Set(published);
  const byEndpoint = new Map<Endpoint, EndpointDelivery>();
  for (const endpoint of published) byEndpoint.set(endpoint, { endpoint, state: 'healthy', sources: [] });
  const worsen = (entry: EndpointDelivery, state: ReadState, source: { source: string; lastError?: string }) => {
    const current = RANK[entry.state as keyof typeof RANK];
    if (RANK[state] > current) {
      entry.state = state;
      entry.sources = [];
    }
    if (RANK[state] === RANK[entry.state as keyof typeof RANK]) entry.sources.push(source);
  };
  for (const read of answered) {
    const listed = new Map<Endpoint, string | null>();
    for (const store of read.stores) {
      const endpoint = normaliseEndpoint(store.name);
      if (endpoint !== undefined) listed.set(endpoint, store.lastError);
    }
    for (const endpoint of published) {
      const entry = byEndpoint.get(endpoint)!;
      if (!listed.has(endpoint)) worsen(entry, 'unseen', { source: read.source });
      else {
        const lastError = listed.get(endpoint);
        if (lastError) worsen(entry, 'unhealthy', { source: read.source, lastError });
        else worsen(entry, 'healthy', { source: read.source });
      }
    }
    for (const endpoint of listed.keys()) {
      if (wanted.has(endpoint)) continue;
      const entry = byEndpoint.get(endpoint) ?? { endpoint, state: 'unpublished' as const, sources: [] };
      entry.sources.push({ source: read.source });
      byEndpoint.set(endpoint, entry);
    }
  }
  if (rolloutPending) for (const entry of byEndpoint.values()) if (entry.state === 'unseen') entry.state = 'awaiting_rollout';
  const endpoints = [...byEndpoint.values()].sort((x, y) => (x.endpoint < y.endpoint ? -1 : x.endpoint > y.endpoint ? 1 : 0));
  const matched = answered.length > 0 && failedSources.length === 0 && endpoints.every((entry) => entry.state === 'healthy');
  return { endpoints, failedSources, matched };
}

/** How many endpoints are in each state, every state present (zero included) so the gauges never go stale. */
export function countStates(comparison: DeliveryComparison): Record<DeliveryState, number> {
  const counts = Object.fromEntries(DELIVERY_STATES.map((state) => [state, 0])) as Record<DeliveryState, number>;
  for (const entry of comparison.endpoints) counts[entry.state] += 1;
  return counts;
}
