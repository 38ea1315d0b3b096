import { publishedEndpoints } from '../format/endpoints-file.ts';
import type { ConfigMap, Deployment } from '../kube/types.ts';
import type { DesiredState } from './desired-set.ts';
import { NOTHING_PENDING, parsePending, PENDING_REMOVALS_ANNOTATION } from './pending-annotation.ts';

/**
 * What a ConfigMap publishes and what the Deployment rolled, as this controller marks them: the hash of the published
 * set (format's `renderPublished`) on the ConfigMap and on the pod template, and the removal state on the ConfigMap.
 * A pod template whose hash changes is what rolls Thanos; the same hash never rolls twice.
 */
export const ENDPOINTS_HASH_ANNOTATION = 'thanos-store-discovery/endpoints-hash';

/** Every annotation the controller owns on the ConfigMap (the size guard counts them as ours). */
export const CONFIGMAP_ANNOTATIONS = [ENDPOINTS_HASH_ANNOTATION, PENDING_REMOVALS_ANNOTATION];

/** Ours on the ConfigMap. With nothing pending the annotation is left out: server-side apply then removes it. */
export function configMapAnnotations(hash: string, pending: string): Record<string, string> {
  return { [ENDPOINTS_HASH_ANNOTATION]: hash, ...(pending === NOTHING_PENDING ? {} : { [PENDING_REMOVALS_ANNOTATION]: pending }) };
}

/** The hash the ConfigMap says it publishes; undefined for a ConfigMap we never wrote (the older tool's). */
export function publishedHash(configMap: ConfigMap | undefined): string | undefined {
  return configMap?.metadata?.annotations?.[ENDPOINTS_HASH_ANNOTATION];
}

/** The hash the pods were last rolled for. */
export function rolledHash(deployment: Deployment | undefined): string | undefined {
  return deployment?.spec?.template?.metadata?.annotations?.[ENDPOINTS_HASH_ANNOTATION];
}

/** What the ConfigMap publishes now: hosts without ports and the removal state it carries; undefined when unreadable or empty. */
export function publishedState(configMap: ConfigMap | undefined, key: string): DesiredState | undefined {
  const endpoints = publishedEndpoints(configMap?.data, key);
  if (endpoints === undefined || endpoints.length === 0) return undefined;
  const hosts = [...new Set(endpoints.map((endpoint) => endpoint.slice(0, endpoint.lastIndexOf(':'))))].sort();
  return { hosts, ...parsePending(configMap?.metadata?.annotations?.[PENDING_REMOVALS_ANNOTATION], hosts) };
}
