import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  type CoreV1Event,
  type KubeConfig,
  type V1ConfigMap,
  type V1Lease,
} from '@kubernetes/client-node';
import { kubeCall, type CallLimits } from './client.ts';
import type { ConfigMap, CoreEvent, Deployment, Lease, ObjectList, Pod } from './types.ts';

/** Every Kubernetes API call the controller makes, each one typed; the sinks and the elector take the few they need. */
export interface KubeApi {
  listConfigMaps(namespace: string, fieldSelector: string): Promise<ObjectList<ConfigMap>>;
  createConfigMap(namespace: string, body: ConfigMap, fieldManager: string): Promise<ConfigMap>;
  /** Server-Side Apply with `force`: takes over the listed fields from other managers, touches no other field. */
  applyConfigMap(namespace: string, name: string, body: ConfigMap, fieldManager: string): Promise<ConfigMap>;
  listDeployments(namespace: string, fieldSelector: string): Promise<ObjectList<Deployment>>;
  /** A JSON merge patch (RFC 7386). */
  mergePatchDeployment(namespace: string, name: string, patch: object): Promise<Deployment>;
  listPods(namespace: string, labelSelector: string): Promise<ObjectList<Pod>>;
  createEvent(namespace: string, body: CoreEvent): Promise<CoreEvent>;
  readLease(namespace: string, name: string): Promise<Lease>;
  createLease(namespace: string, body: Lease): Promise<Lease>;
  /** An update carrying the body's resourceVersion: 409 when the lease changed since it was read. */
  replaceLease(namespace: string, name: string, body: Lease): Promise<Lease>;
}

/** The collection paths the informers watch. */
export const configMapsPath = (namespace: string): string => `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
export const deploymentsPath = (namespace: string): string => `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`;

/**
 * The calls, made through client-node's generated API classes. Their answers come back as client-node model objects
 * (timestamps as Date); they are handed on as the API's JSON, the shape of ./types.ts and of what the watch delivers.
 */
export function createKubeApi(kubeConfig: KubeConfig, limits: CallLimits): KubeApi {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  const call = async <T>(run: Parameters<typeof kubeCall>[1], contentType?: string): Promise<T> =>
    asJson<T>(await kubeCall(limits, run, contentType));
  return {
    listConfigMaps: (namespace, fieldSelector) => call((options) => core.listNamespacedConfigMap({ namespace, fieldSelector }, options)),
    createConfigMap: (namespace, body, fieldManager) =>
      call((options) => core.createNamespacedConfigMap({ namespace, body: asModel<V1ConfigMap>(body), fieldManager }, options)),
    applyConfigMap: (namespace, name, body, fieldManager) =>
      call(
        (options) => core.patchNamespacedConfigMap({ namespace, name, body, fieldManager, force: true }, options),
        PatchStrategy.ServerSideApply,
      ),
    listDeployments: (namespace, fieldSelector) => call((options) => apps.listNamespacedDeployment({ namespace, fieldSelector }, options)),
    mergePatchDeployment: (namespace, name, patch) =>
      call((options) => apps.patchNamespacedDeployment({ namespace, name, body: patch }, options), PatchStrategy.MergePatch),
    listPods: (namespace, labelSelector) => call((options) => core.listNamespacedPod({ namespace, labelSelector }, options)),
    createEvent: (namespace, body) =>
      call((options) => core.createNamespacedEvent({ namespace, body: asModel<CoreV1Event>(body) }, options)),
    readLease: (namespace, name) => call((options) => coordination.readNamespacedLease({ namespace, name }, options)),
    createLease: (namespace, body) =>
      call((options) => coordination.createNamespacedLease({ namespace, body: asModel<V1Lease>(body) }, options)),
    replaceLease: (namespace, name, body) =>
      call((options) => coordination.replaceNamespacedLease({ namespace, name, body: asModel<V1Lease>(body) }, options)),
  };
}

/**
 * A body in the API's JSON shape as the client-node model its call is typed with. Only the timestamps differ (text
 * here, Date there), and client-node's serializer sends a timestamp that is not a Date as it is.
 */
function asModel<M>(body: object): M {
  return body as M;
}

/** A client-node model object as the API's JSON: Dates back to their RFC 3339 text, absent fields left out. */
function asJson<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
