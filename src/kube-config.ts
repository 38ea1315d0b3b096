import { KubeConfig } from '@kubernetes/client-node';

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
