import type { KubeApi } from '../kube/api.ts';
import type { ConfigMap } from '../kube/types.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { apiStatusCode } from '../kube/client.ts';
import { KubernetesWriteError } from './errors.ts';
import { FencedError, UNGUARDED, type WriteGuard } from './write-guard.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'thanos-store-discovery';
/** Our name in the object's managedFields: Server-Side Apply gives us exactly the fields this manager sends. */
export const FIELD_MANAGER = 'thanos-store-discovery';

export interface ConfigMapWriteRequest {
  /** From the informer cache; may be stale. */
  existing: ConfigMap | undefined;
  key: string;
  text: string;
  annotations: Record<string, string>;
}

/** `unchanged`: the object already held our content (our own earlier write, not yet cached), so nothing changed. */
export type ConfigMapWriteOutcome = 'created' | 'updated' | 'unchanged';

/** The outcome, and the object as the API server answered it: what a pass reads until the cache has caught up. */
export interface ConfigMapWriteResult {
  outcome: ConfigMapWriteOutcome;
  written: ConfigMap;
}

export interface ConfigMapWriter {
  write(request: ConfigMapWriteRequest): Promise<ConfigMapWriteResult>;
}

type ConfigMapApi = Pick<KubeApi, 'createConfigMap' | 'applyConfigMap'>;

/**
 * Writes our data key and our annotations, and nothing else, so a ConfigMap someone else owns (a Helm release, a
 * GitOps tool) keeps its labels, annotations and other keys, and its owner's next apply finds no field of theirs
 * changed. A missing ConfigMap is created with our managed-by label: then it is ours. An existing one is written by
 * Server-Side Apply under our own field manager, listing only our key and annotations; `force` takes those fields
 * over from whoever set them before (the older CronJob, a hand edit) and no others.
 *
 * No resourceVersion precondition on the apply: it touches only fields we own, so it cannot overwrite anyone
 * else's concurrent change, and a precondition would turn every unrelated edit (an owner's upgrade, a label) into a
 * conflict and a retry. A concurrent edit of our own key is exactly what the next pass repairs anyway. One race is
 * accepted: an object deleted between the cache read and the apply is re-created by the apply, without our label
 * (nothing reads the label; it tells people who made the object).
 */
export function createConfigMapWriter(options: {
  api: ConfigMapApi;
  namespace: string;
  name: string;
  metrics: Metrics;
  logger: Logger;
  /** Runs each request: the write fence, checked before every one. */
  guard?: WriteGuard;
}): ConfigMapWriter {
  const { api, namespace, name, metrics, logger, guard = UNGUARDED } = options;
  const resource = `ConfigMap ${namespace}/${name}`;

  async function apply(request: ConfigMapWriteRequest): Promise<ConfigMapWriteResult> {
    let applied: ConfigMap;
    try {
      applied = await guard(() => api.applyConfigMap(namespace, name, ourFields(namespace, name, request), FIELD_MANAGER));
    } catch (error) {
      if (error instanceof FencedError) throw error;
      throw new KubernetesWriteError({ resource, operation: 'apply', cause: error });
    }
    // An apply that changes nothing leaves the resourceVersion as it was (seen only while the cached one is current).
    const before = request.existing?.metadata?.resourceVersion;
    if (before !== undefined && applied.metadata?.resourceVersion === before) return { outcome: 'unchanged', written: applied };
    metrics.configMapWrites.inc({ operation: 'update' });
    return { outcome: 'updated', written: applied };
  }

  return {
    async write(request) {
      if (request.existing !== undefined) return apply(request);
      // Create rather than apply when it is missing: a create of an object that exists after all (a stale cache,
      // another creator) fails, where an apply would put our label on an object someone else made.
      try {
        const created = await guard(() => api.createConfigMap(namespace, newConfigMap(namespace, name, request), FIELD_MANAGER));
        metrics.configMapWrites.inc({ operation: 'create' });
        return { outcome: 'created', written: created };
      } catch (error) {
        if (error instanceof FencedError) throw error;
        if (apiStatusCode(error) !== 409) throw new KubernetesWriteError({ resource, operation: 'create', cause: error });
        logger.info('ConfigMap was created by someone else meanwhile; writing only our key', { configMap: resource });
        return apply(request);
      }
    },
  };
}

/** The apply configuration: only the fields we own. Anything left out here is left alone on the server. */
function ourFields(namespace: string, name: string, request: ConfigMapWriteRequest): ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, annotations: { ...request.annotations } },
    data: { [request.key]: request.text },
  };
}

function newConfigMap(namespace: string, name: string, request: ConfigMapWriteRequest): ConfigMap {
  const body = ourFields(namespace, name, request);
  return { ...body, metadata: { ...body.metadata, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } } };
}
