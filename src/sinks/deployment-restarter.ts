import type { KubeApi } from '../kube/api.ts';
import type { Deployment } from '../kube/types.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { apiStatusCode } from '../kube/client.ts';
import { ENDPOINTS_HASH_ANNOTATION, rolledHash } from '../plan/published.ts';
import { KubernetesWriteError } from './errors.ts';
import { FencedError, UNGUARDED, type WriteGuard } from './write-guard.ts';
import type { EventRecorder } from './event-recorder.ts';

export const RESTART_EVENT_REASON = 'StoreEndpointsChanged';
// The apiserver refuses longer messages on events.k8s.io Events; stay under it for core/v1 too.
const MAX_EVENT_MESSAGE_BYTES = 1024;

export interface RestartRequest {
  hash: string;
  added: readonly string[];
  removed: readonly string[];
}

/**
 * `patched`: the pod template now carries the hash and did not before, so the pods roll. `in place`: the Deployment
 * held the hash already (our earlier patch, not yet cached), nothing rolls. Both carry the Deployment as the API
 * server answered it, for the pass to read until its cache catches up.
 */
export type RestartOutcome =
  { kind: 'patched'; deployment: Deployment } | { kind: 'in place'; deployment: Deployment } | { kind: 'missing' } | { kind: 'held back' };

export interface DeploymentRestarter {
  /** `proceed` sees the Deployment as read right before the patch; false holds the patch back (the revert guard). */
  restart(request: RestartRequest, proceed?: (live: Deployment) => boolean): Promise<RestartOutcome>;
}

/**
 * Changes the pod template's hash annotation, so the Deployment's own RollingUpdate replaces the pods at the pace
 * its strategy allows. Pods are never deleted here. The Deployment is read first: one that holds the hash already is
 * left alone, and no restart is counted or recorded for it (a merge patch answers alike whether or not it changed
 * anything).
 */
export function createDeploymentRestarter(options: {
  api: Pick<KubeApi, 'listDeployments' | 'mergePatchDeployment'>;
  events: EventRecorder;
  namespace: string;
  name: string;
  metrics: Metrics;
  logger: Logger;
  /** Runs the patch: the write fence. */
  guard?: WriteGuard;
}): DeploymentRestarter {
  const { api, events, namespace, name, metrics, logger, guard = UNGUARDED } = options;
  const resource = `Deployment ${namespace}/${name}`;
  const missing = (hash: string): RestartOutcome => {
    logger.warn('Deployment to restart does not exist', { deployment: resource, hash });
    return { kind: 'missing' };
  };
  return {
    async restart(request, proceed = () => true) {
      let current: Deployment | undefined;
      try {
        current = (await api.listDeployments(namespace, `metadata.name=${name}`)).items[0];
      } catch (error) {
        throw new KubernetesWriteError({ resource, operation: 'read before the patch', cause: error });
      }
      if (current === undefined) return missing(request.hash);
      if (!proceed(current)) return { kind: 'held back' };
      if (rolledHash(current) === request.hash) {
        return { kind: 'in place', deployment: current };
      }
      let deployment: Deployment;
      try {
        deployment = await guard(() => api.mergePatchDeployment(namespace, name, buildRestartPatch(request.hash)));
      } catch (error) {
        if (error instanceof FencedError) throw error;
        if (apiStatusCode(error) === 404) return missing(request.hash);
        throw new KubernetesWriteError({ resource, operation: 'patch', cause: error });
      }
      metrics.restarts.inc();
      logger.info('rolling restart triggered', {
        deployment: resource,
        hash: request.hash,
        added: request.added.length,
        removed: request.removed.length,
      });
      const uid = deployment.metadata?.uid;
      await events.record({
        involved: { kind: 'Deployment', name, apiVersion: 'apps/v1', ...(uid === undefined ? {} : { uid }) },
        reason: RESTART_EVENT_REASON,
        message: buildRestartMessage(request),
        type: 'Normal',
      });
      return { kind: 'patched', deployment };
    },
  };
}

/** The JSON merge patch: it touches this one annotation and nothing else of the Deployment. */
export function buildRestartPatch(hash: string): object {
  return { spec: { template: { metadata: { annotations: { [ENDPOINTS_HASH_ANNOTATION]: hash } } } } };
}

/** `+3 -1: added a:10901, b:10901, ... 1 more; removed c:10901`, cut to fit an Event message. */
export function buildRestartMessage(request: RestartRequest, maxBytes = MAX_EVENT_MESSAGE_BYTES): string {
  const head = `+${request.added.length} -${request.removed.length}: `;
  if (request.added.length === 0 && request.removed.length === 0) return `${head}endpoints hash is now ${request.hash}`;
  const addedLabel = 'added ';
  const removedLabel = request.added.length > 0 ? '; removed ' : 'removed ';
  let budget =
    maxBytes - bytes(head) - (request.added.length > 0 ? bytes(addedLabel) : 0) - (request.removed.length > 0 ? bytes(removedLabel) : 0);
  let message = head;
  if (request.added.length > 0) {
    // Half for each list when both are present; whatever the added list leaves unused goes to the removed one.
    const added = capList(request.added, request.removed.length > 0 ? Math.floor(budget / 2) : budget);
    budget -= bytes(added);
    message += addedLabel + added;
  }
  if (request.removed.length > 0) message += removedLabel + capList(request.removed, budget);
  return message;
}

// As many items as fit in `budget` bytes, then `... N more` for the rest.
function capList(items: readonly string[], budget: number): string {
  const shown: string[] = [];
  let used = 0;
  for (const [index, item] of items.entries()) {
    const cost = bytes(item) + (shown.length > 0 ? 2 : 0);
    const remaining = items.length - index - 1;
    const tail = remaining > 0 ? bytes(`, ... ${remaining} more`) : 0;
    if (used + cost + tail > budget) break;
    shown.push(item);
    used += cost;
  }
  const hidden = items.length - shown.length;
  return hidden === 0 ? shown.join(', ') : [...shown, `... ${hidden} more`].join(', ');
}

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
