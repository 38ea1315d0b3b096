import type { ObjectMeta } from '../kube/types.ts';

/** What the API server answered to our last write of an object, and the resourceVersion of the object it replaced. */
export interface OwnWrite<T> {
  replacedVersion: string;
  written: T;
}

/**
 * Pure: the object a pass should read. The informer cache, unless it still holds exactly the version our last write
 * replaced (the watch event of that write has not arrived yet): then the write's own answer. Any other version in the
 * cache came after it, and the cache is trusted again. So a pass never waits for its own writes to reach the cache.
 */
export function freshest<T extends { metadata?: ObjectMeta }>(cached: T | undefined, own: OwnWrite<T> | undefined): T | undefined {
  if (own === undefined || cached?.metadata?.resourceVersion !== own.replacedVersion) return cached;
  return own.written;
}
