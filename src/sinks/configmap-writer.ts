import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { KubernetesWriteError, apiStatusCode } from './errors.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'thanos-store-discovery';
const DEFAULT_MAX_CONFLICT_RETRIES = 5;

export interface ConfigMapWriteRequest {
  /** From the informer cache; may be stale, a conflict answer makes the writer re-read it. */
  existing: V1ConfigMap | undefined;
  key: string;
  text: string;
  annotations: Record<string, string>;
}

/** `unchanged`: a re-read after a conflict found our content already there (our own earlier write, not yet cached). */
export type ConfigMapWriteOutcome = 'created' | 'updated' | 'unchanged';

export interface ConfigMapWriter {
  write(request: ConfigMapWriteRequest): Promise<ConfigMapWriteOutcome>;
}

type ConfigMapApi = Pick<CoreV1Api, 'createNamespacedConfigMap' | 'replaceNamespacedConfigMap' | 'readNamespacedConfigMap'>;

/**
 * Writes our key of the ConfigMap and leaves everything else on it alone. Updates carry the resourceVersion they
 * were based on, so a concurrent edit is never overwritten: a conflict re-reads the object and tries again.
 */
export function createConfigMapWriter(options: {
  core: ConfigMapApi;
  namespace: string;
  name: string;
  metrics: Metrics;
  logger: Logger;
  maxConflictRetries?: number;
}): ConfigMapWriter {
  const { core, namespace, name, metrics, logger } = options;
  const maxRetries = options.maxConflictRetries ?? DEFAULT_MAX_CONFLICT_RETRIES;
  const resource = `ConfigMap ${namespace}/${name}`;

  async function read(): Promise<V1ConfigMap | undefined> {
    try {
      return await core.readNamespacedConfigMap({ name, namespace });
    } catch (error) {
      if (apiStatusCode(error) === 404) return undefined;
      throw new KubernetesWriteError({ resource, operation: 'read', cause: error });
    }
  }

  return {
    async write(request) {
      let current = request.existing;
      // Conflicts, a create racing another creator and an object deleted under us all cost one retry each.
      for (let retries = 0; ; retries++) {
        const operation = current === undefined ? 'create' : 'update';
        try {
          if (current === undefined) {
            await core.createNamespacedConfigMap({ namespace, body: newConfigMap(namespace, name, request) });
            metrics.configMapWrites.inc({ operation: 'create' });
            return 'created';
          }
          await core.replaceNamespacedConfigMap({ name, namespace, body: withOurContent(current, request) });
          metrics.configMapWrites.inc({ operation: 'update' });
          return 'updated';
        } catch (error) {
          const status = apiStatusCode(error);
          const retryable = status === 409 || (operation === 'update' && status === 404);
          if (!retryable) throw new KubernetesWriteError({ resource, operation, cause: error });
          if (retries >= maxRetries) {
            throw new KubernetesWriteError({ resource, operation, cause: error, detail: `after ${retries + 1} attempts` });
          }
          logger.info('ConfigMap changed under us, retrying', { configMap: resource, operation, status, attempt: retries + 1 });
          current = status === 404 ? undefined : await read();
          if (current !== undefined && holdsOurContent(current, request)) return 'unchanged';
        }
      }
    },
  };
}

function newConfigMap(namespace: string, name: string, request: ConfigMapWriteRequest): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { ...request.annotations },
    },
    data: { [request.key]: request.text },
  };
}

function holdsOurContent(current: V1ConfigMap, request: ConfigMapWriteRequest): boolean {
  const annotations = current.metadata?.annotations ?? {};
  return (
    current.data?.[request.key] === request.text &&
    current.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE &&
    Object.entries(request.annotations).every(([key, value]) => annotations[key] === value)
  );
}

// Builds a new object rather than editing `current`, which may be the informer's cached copy.
function withOurContent(current: V1ConfigMap, request: ConfigMapWriteRequest): V1ConfigMap {
  // managedFields left out: the server keeps its own, and a stale copy sent back would overwrite them.
  const { managedFields: _managedFields, ...metadata } = current.metadata ?? {};
  return {
    ...current,
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      ...metadata,
      labels: { ...metadata.labels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { ...metadata.annotations, ...request.annotations },
    },
    data: { ...current.data, [request.key]: request.text },
  };
}
