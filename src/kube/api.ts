import type { KubeClient } from './client.ts';
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

const core = (namespace: string, resource: string, name?: string): string =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
const group = (prefix: string, namespace: string, resource: string, name?: string): string =>
  `/apis/${prefix}${core(namespace, resource, name).slice('/api/v1'.length)}`;

/** The collection paths the informers watch. */
export const configMapsPath = (namespace: string): string => core(namespace, 'configmaps');
export const deploymentsPath = (namespace: string): string => group('apps/v1', namespace, 'deployments');

export function createKubeApi(client: KubeClient): KubeApi {
  const leases = (namespace: string, name?: string) => group('coordination.k8s.io/v1', namespace, 'leases', name);
  return {
    listConfigMaps: (namespace, fieldSelector) => client.request('GET', configMapsPath(namespace), { query: { fieldSelector } }),
    createConfigMap: (namespace, body, fieldManager) =>
      client.request('POST', configMapsPath(namespace), { query: { fieldManager }, body }),
    applyConfigMap: (namespace, name, body, fieldManager) =>
      client.request('PATCH', core(namespace, 'configmaps', name), {
        query: { fieldManager, force: true },
        body,
        contentType: 'application/apply-patch+yaml',
      }),
    listDeployments: (namespace, fieldSelector) => client.request('GET', deploymentsPath(namespace), { query: { fieldSelector } }),
    mergePatchDeployment: (namespace, name, patch) =>
      client.request('PATCH', group('apps/v1', namespace, 'deployments', name), {
        body: patch,
        contentType: 'application/merge-patch+json',
      }),
    listPods: (namespace, labelSelector) => client.request('GET', core(namespace, 'pods'), { query: { labelSelector } }),
    createEvent: (namespace, body) => client.request('POST', core(namespace, 'events'), { body }),
    readLease: (namespace, name) => client.request('GET', leases(namespace, name)),
    createLease: (namespace, body) => client.request('POST', leases(namespace), { body }),
    replaceLease: (namespace, name, body) => client.request('PUT', leases(namespace, name), { body }),
  };
}
