import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describeError } from '../logger.ts';

/** Where a pod finds its ServiceAccount token and the cluster's CA (client-node's loadFromCluster reads them there). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The credentials could not be loaded; the message names the setting or the file. */
export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

/**
 * How to reach the API server, read by `@kubernetes/client-node`. In a pod: the ServiceAccount (`loadFromCluster`:
 * the service address, the mounted CA, the token file read again every minute as bound tokens rotate). With
 * `DEVELOPER_MODE=true`: `KUBECONFIG` or `~/.kube/config` (`loadFromDefault`), with every kind of user client-node
 * supports (tokens, client certificates, exec plugins, OIDC and the other auth-providers, proxy-url,
 * tls-server-name). client-node reads files lazily, at the first request; what it would only find then is checked
 * here, so a bad setting stops the start with its name. `pathPrefix` roots the ServiceAccount files elsewhere.
 */
export function loadKubeConfig(developerMode: boolean, pathPrefix = ''): KubeConfig {
  const config = new KubeConfig();
  if (developerMode) {
    const home = process.env['HOME'];
    if (!process.env['KUBECONFIG'] && !(home && readable(join(home, '.kube', 'config')))) {
      // client-node would fall back to the in-cluster account, or to http://localhost:8080.
      throw new KubeConfigError('DEVELOPER_MODE=true but neither KUBECONFIG nor ~/.kube/config names a kubeconfig');
    }
    try {
      config.loadFromDefault();
    } catch (error) {
      throw new KubeConfigError(`DEVELOPER_MODE=true but the kubeconfig cannot be read: ${describeError(error)}`, { cause: error });
    }
    const cluster = config.getCurrentCluster();
    if (!cluster || !URL.canParse(cluster.server)) {
      throw new KubeConfigError(
        `DEVELOPER_MODE=true but the kubeconfig's current context (${config.getCurrentContext() || 'none'}) names no cluster with a valid server URL`,
      );
    }
    return config;
  }
  if (!process.env['KUBERNETES_SERVICE_HOST'] || !process.env['KUBERNETES_SERVICE_PORT']) {
    throw new KubeConfigError('not running in a cluster (KUBERNETES_SERVICE_HOST unset); set DEVELOPER_MODE=true to use a kubeconfig');
  }
  for (const [file, what] of [
    ['token', 'the ServiceAccount token'],
    ['ca.crt', 'the ServiceAccount CA'],
  ] as const) {
    const path = `${pathPrefix}${SERVICE_ACCOUNT_DIR}/${file}`;
    if (!readable(path)) throw new KubeConfigError(`cannot read ${what} at ${path}`);
  }
  config.loadFromCluster(pathPrefix);
  return config;
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
