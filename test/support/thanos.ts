import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1ConfigMap,
  type V1Container,
  type V1Deployment,
  type V1PodSpec,
} from '@kubernetes/client-node';

export const THANOS_DEPLOYMENT = 'thanos-query';
export const THANOS_CONFIGMAP = 'thanos-store-sd';
export const SD_KEY = 'servicediscovery.yml';
export const HASH_ANNOTATION = 'thanos-store-discovery/endpoints-hash';

/**
 * A Thanos Query Deployment as a chart would make it. Without a controller-manager it never gets pods; `nodeName`
 * binds its pods to a node (no scheduler runs in the tests), for the rollout tests where kwok plays that node.
 * Two replicas unless `replicas` says otherwise (0: a Deployment to patch whose pods never run).
 * On a real node, `container`, `sidecars` and `pod` add what real containers need (image, flags, probes, hostAliases).
 */
export async function createThanosDeployment(
  kubeConfig: KubeConfig,
  namespace: string,
  name = THANOS_DEPLOYMENT,
  options: {
    nodeName?: string;
    replicas?: number;
    container?: Partial<V1Container>;
    sidecars?: V1Container[];
    pod?: Partial<V1PodSpec>;
  } = {},
): Promise<V1Deployment> {
  const labels = { 'app.kubernetes.io/name': 'thanos-query' };
  return kubeConfig.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, labels },
      spec: {
        replicas: options.replicas ?? 2,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels },
          spec: {
            ...(options.nodeName === undefined ? {} : { nodeName: options.nodeName }),
            containers: [
              {
                name: 'query',
                image: 'quay.io/thanos/thanos:v0.39.2',
                args: ['query', '--store.sd-files=/etc/thanos/sd/servicediscovery.yml'],
                volumeMounts: [{ name: 'sd', mountPath: '/etc/thanos/sd' }],
                ...options.container,
              },
              ...(options.sidecars ?? []),
            ],
            volumes: [{ name: 'sd', configMap: { name: THANOS_CONFIGMAP, optional: true } }],
            ...options.pod,
          },
        },
      },
    },
  });
}

async function orUndefinedOn404<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

export function readConfigMap(kubeConfig: KubeConfig, namespace: string, name = THANOS_CONFIGMAP): Promise<V1ConfigMap | undefined> {
  return orUndefinedOn404(kubeConfig.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace, name }));
}

export function readDeployment(kubeConfig: KubeConfig, namespace: string, name = THANOS_DEPLOYMENT): Promise<V1Deployment | undefined> {
  return orUndefinedOn404(kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace, name }));
}

export function templateHash(deployment: V1Deployment | undefined): string | undefined {
  return deployment?.spec?.template?.metadata?.annotations?.[HASH_ANNOTATION];
}

/** The file_sd text the controller must write for these hosts on port 10901 (absolute names). */
export function expectedFileSd(hosts: readonly string[]): string {
  return `- targets:\n${hosts
    .map((host) => `  - ${host}.:10901\n`)
    .sort()
    .join('')}`;
}
