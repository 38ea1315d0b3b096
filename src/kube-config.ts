import { KubeConfig, ServerConfiguration, createConfiguration, type Configuration } from '@kubernetes/client-node';

/** In-cluster service account in production; `DEVELOPER_MODE=true` uses `KUBECONFIG` or `~/.kube/config`, as the older tool did. */
export function loadKubeConfig(developerMode: boolean, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (developerMode) {
    kubeConfig.loadFromDefault();
    if (!kubeConfig.getCurrentCluster()) {
      throw new Error('DEVELOPER_MODE=true but no current cluster in KUBECONFIG or ~/.kube/config');
    }
  } else {
    // client-node would otherwise build a server URL of "https://undefined:undefined".
    if (!env['KUBERNETES_SERVICE_HOST'] || !env['KUBERNETES_SERVICE_PORT']) {
      throw new Error('not running in a cluster (KUBERNETES_SERVICE_HOST unset); set DEVELOPER_MODE=true to use a kubeconfig');
    }
    kubeConfig.loadFromCluster();
  }
  return kubeConfig;
}

/**
 * An API client as `KubeConfig.makeApiClient` makes it, but every request is aborted after `timeoutMs`: client-node
 * sets no timeout, and a request hung on a dead connection would otherwise hold a pass (and a shutdown) for minutes.
 */
export function makeApiClient<T>(kubeConfig: KubeConfig, apiClientType: new (configuration: Configuration) => T, timeoutMs: number): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no current cluster');
  return new apiClientType(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      promiseMiddleware: [
        {
          pre: async (context) => {
            context.setSignal(AbortSignal.timeout(timeoutMs));
            context.setHeaderParam('User-Agent', 'thanos-store-discovery');
            return context;
          },
          post: async (response) => response,
        },
      ],
    }),
  );
}
