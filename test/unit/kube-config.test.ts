import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig, makeApiClient } from '../../src/kube-config.ts';

describe('makeApiClient', () => {
  let server: Server;
  let hang = false;
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push(request.headers);
      if (hang) return;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sd', namespace: 'monitoring' }, data: { k: 'v' } }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function client(timeoutMs: number): CoreV1Api {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'test-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return makeApiClient(kubeConfig, CoreV1Api, timeoutMs);
  }

  it('talks to the current cluster with the kubeconfig credentials', async () => {
    hang = false;
    const configMap = await client(2_000).readNamespacedConfigMap({ namespace: 'monitoring', name: 'sd' });
    expect(configMap.data).toEqual({ k: 'v' });
    expect(seen.at(-1)?.authorization).toBe('Bearer test-token');
    expect(seen.at(-1)?.['user-agent']).toBe('thanos-store-discovery');
  });

  it('aborts a request the server never answers', async () => {
    hang = true;
    const started = performance.now();
    await expect(client(200).readNamespacedConfigMap({ namespace: 'monitoring', name: 'sd' })).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('loadKubeConfig', () => {
  it('refuses in-cluster mode outside a cluster, saying how to use a kubeconfig', () => {
    expect(() => loadKubeConfig(false, {})).toThrow(/KUBERNETES_SERVICE_HOST unset.*DEVELOPER_MODE=true/);
  });
});
