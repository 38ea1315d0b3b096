// Acting as a ServiceAccount rather than as the admin: a token minted through the TokenRequest API, a kubeconfig
// that carries it, and the RBAC authorizer's verdicts for it (SubjectAccessReview).
import { writeFile } from 'node:fs/promises';
import { AuthorizationV1Api, CoreV1Api, KubeConfig, type V1ResourceAttributes } from '@kubernetes/client-node';
import { stringify } from 'yaml';

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/**
 * Writes a kubeconfig at `path` that authenticates as the ServiceAccount with a fresh token (valid an hour), for
 * the same API server and CA as `admin`; returns the path.
 */
export async function writeServiceAccountKubeconfig(admin: KubeConfig, account: ServiceAccountRef, path: string): Promise<string> {
  return writeKubeconfig(admin, account, path, { token: await serviceAccountToken(admin, account) });
}

/**
 * The same identity through an exec credential plugin, as EKS and GKE kubeconfigs authenticate: a shell script
 * beside the kubeconfig prints an ExecCredential holding the ServiceAccount's token (passed to it in `env`, as
 * plugins get their settings) and counts its runs in `<path>.runs`. Returns the kubeconfig's path.
 */
export async function writeExecPluginKubeconfig(admin: KubeConfig, account: ServiceAccountRef, path: string): Promise<string> {
  const plugin = `${path}.credential-plugin.sh`;
  await writeFile(
    plugin,
    [
      '#!/bin/sh',
      `echo run >> '${path}.runs'`,
      'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\' "$TSD_TEST_TOKEN"',
      '',
    ].join('\n'),
    { mode: 0o700 },
  );
  const token = await serviceAccountToken(admin, account);
  return writeKubeconfig(admin, account, path, {
    exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, env: [{ name: 'TSD_TEST_TOKEN', value: token }] },
  });
}

async function serviceAccountToken(admin: KubeConfig, account: ServiceAccountRef): Promise<string> {
  const { status } = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    ...account,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  if (!status?.token) throw new Error(`no token issued for ServiceAccount ${account.namespace}/${account.name}`);
  return status.token;
}

async function writeKubeconfig(admin: KubeConfig, account: ServiceAccountRef, path: string, user: object): Promise<string> {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the admin kubeconfig names no current cluster');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
    users: [{ name: account.name, user }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: account.name, namespace: account.namespace } }],
    'current-context': 'test',
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

/** A KubeConfig loaded from `path`. */
export function kubeConfigFrom(path: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return kubeConfig;
}

/** What the API server's RBAC authorizer decides for each request the ServiceAccount might make. */
export async function accessDecisions(
  admin: KubeConfig,
  account: ServiceAccountRef,
  requests: Record<string, V1ResourceAttributes>,
): Promise<Record<string, boolean>> {
  const authorization = admin.makeApiClient(AuthorizationV1Api);
  const entries = await Promise.all(
    Object.entries(requests).map(async ([label, resourceAttributes]) => {
      const review = await authorization.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: `system:serviceaccount:${account.namespace}:${account.name}`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${account.namespace}`, 'system:authenticated'],
            resourceAttributes,
          },
        },
      });
      return [label, review.status?.allowed === true] as const;
    }),
  );
  return Object.fromEntries(entries);
}
