import { describeError } from '../logger.ts';
import type { ListedStore, SourceRead } from './delivery-compare.ts';

const TIMEOUT_MS = 5_000;

/** `GET /api/v1/stores` of one Thanos Query; any failure is an answer too (`ok: false` with the cause). */
export async function readStores(source: string, baseUrl: string, fetchImpl: typeof fetch = fetch): Promise<SourceRead> {
  try {
    const response = await fetchImpl(new URL('api/v1/stores', withSlash(baseUrl)), { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!response.ok) return { source, ok: false, error: `/api/v1/stores answered HTTP ${response.status}` };
    return { source, ok: true, stores: parseStores(await response.json()) };
  } catch (error) {
    return { source, ok: false, error: describeError(error) };
  }
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** The answer groups stores by component type (`{"data": {"store": [...], "sidecar": null}}`); any group counts. */
export function parseStores(body: unknown): ListedStore[] {
  const data = (body as { data?: unknown } | null)?.data;
  if (typeof data !== 'object' || data === null) throw new Error('/api/v1/stores answered without a `data` object');
  const stores: ListedStore[] = [];
  for (const group of Object.values(data)) {
    if (!Array.isArray(group)) continue;
    for (const store of group as unknown[]) {
      const { name, lastError } = (store ?? {}) as { name?: unknown; lastError?: unknown };
      if (typeof name !== 'string') continue;
      stores.push({ name, lastError: typeof lastError === 'string' && lastError !== '' ? lastError : null });
    }
  }
  return stores;
}
