// A Thanos Query "pod" that the controller's delivery check can find: a real `thanos query` serving HTTP on its own
// loopback address (the pod IP), and a Pod object of the Thanos Deployment whose status carries that address.
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { DELIVERY_STATES } from '../../src/diagnostics/delivery-compare.ts';
import type { HostsFile } from '../peers/hosts-namespace.ts';
import { KubeletConfigMapSync } from '../peers/kubelet-volume.ts';
import { startThanosQuery, type ThanosQuery } from '../peers/thanos.ts';
import type { ControllerProcess } from './controller-process.ts';
import { SD_KEY, THANOS_CONFIGMAP } from './thanos.ts';
import { thanosSdArgs } from './thanos-pods.ts';
import { waitFor } from './wait.ts';

export interface QueryPod {
  readonly query: ThanosQuery;
  stop(): Promise<void>;
}

/**
 * Starts Thanos Query on `ip:port` reading the endpoint config from the ConfigMap through a kubelet-style volume, or
 * from `staleFile` (a pod that never loaded the list).
 */
export async function startQueryPod(options: {
  kubeConfig: KubeConfig;
  namespace: string;
  hosts: HostsFile;
  dir: string;
  name: string;
  ip: string;
  port: number;
  refreshSeconds: number;
  staleFile?: string;
}): Promise<QueryPod> {
  const { kubeConfig, namespace, dir, name } = options;
  let sync: KubeletConfigMapSync | undefined;
  let file = options.staleFile;
  if (file === undefined) {
    const volume = new KubeletConfigMapSync({ kubeConfig, namespace, name: THANOS_CONFIGMAP, dir: join(dir, name), syncMs: 500 });
    await waitFor(async () => (await volume.syncOnce())?.[SD_KEY] !== undefined, 'the ConfigMap for the volume', 30_000);
    volume.start();
    sync = volume;
    file = join(volume.volume.dir, SD_KEY);
  }
  try {
    const query = await startThanosQuery({
      hosts: options.hosts,
      sdArgs: thanosSdArgs('endpoint-config', file, options.refreshSeconds),
      logPath: join(dir, `${name}.log`),
      http: { ip: options.ip, port: options.port },
    });
    return { query, stop: async () => void (await Promise.all([query.stop(), sync?.stop()])) };
  } catch (error) {
    await sync?.stop();
    throw error;
  }
}

/** A Pod of the Thanos Deployment (its selector's labels) as the kubelet would report it: Running at `ip`. */
export async function createRunningPod(kubeConfig: KubeConfig, namespace: string, name: string, ip: string): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const pod = await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: { 'app.kubernetes.io/name': 'thanos-query' } },
      spec: { containers: [{ name: 'query', image: 'quay.io/thanos/thanos:v0.42.4' }] },
    },
  });
  await core.replaceNamespacedPodStatus({ namespace, name, body: { ...pod, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } } });
}

/** `thanos_store_discovery_delivery_endpoints` per state as `{"healthy":n,"unhealthy":n,"unseen":n,"awaiting_rollout":n,"unpublished":n}`. */
export async function deliveryStates(controller: Pick<ControllerProcess, 'metric'>): Promise<string> {
  const counts = await Promise.all(
    DELIVERY_STATES.map(async (state) => [state, await controller.metric('thanos_store_discovery_delivery_endpoints', { state })]),
  );
  return JSON.stringify(Object.fromEntries(counts));
}
