import { randomBytes } from 'node:crypto';
import type { KubeApi } from '../kube/api.ts';
import type { CoreEvent } from '../kube/types.ts';
import type { Logger } from '../logger.ts';
import { describeKubernetesError } from './errors.ts';

const COMPONENT = 'thanos-store-discovery';

export interface RecordedEvent {
  involved: { kind: 'Deployment' | 'ConfigMap'; name: string; uid?: string; apiVersion: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
}

export interface EventRecorder {
  /** Best effort: never rejects, a failure is logged at warn. */
  record(event: RecordedEvent): Promise<void>;
}

/** core/v1 Events in the controller's namespace, so `kubectl describe` shows what the controller did. */
export function createEventRecorder(options: { api: Pick<KubeApi, 'createEvent'>; namespace: string; logger: Logger }): EventRecorder {
  const { api, namespace, logger } = options;
  return {
    async record(event) {
      try {
        await api.createEvent(namespace, toCoreEvent(namespace, event, new Date()));
      } catch (error) {
        // RBAC may not grant events/create; the action the event describes has already happened.
        logger.warn('could not record Kubernetes event', {
          involved: `${event.involved.kind} ${namespace}/${event.involved.name}`,
          reason: event.reason,
          error: describeKubernetesError(error),
        });
      }
    },
  };
}

function toCoreEvent(namespace: string, event: RecordedEvent, now: Date): CoreEvent {
  const { kind, name, uid, apiVersion } = event.involved;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
    involvedObject: { kind, name, namespace, apiVersion, ...(uid === undefined ? {} : { uid }) },
    reason: event.reason,
    message: event.message,
    type: event.type,
    firstTimestamp: now.toISOString(),
    lastTimestamp: now.toISOString(),
    count: 1,
    source: { component: COMPONENT },
    reportingComponent: COMPONENT,
  };
}
