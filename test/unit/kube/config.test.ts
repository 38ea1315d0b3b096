// Where the controller's credentials come from (client-node's KubeConfig), and which kinds of kubeconfig users reach
// a real local HTTP server with the credential they name.
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { createKubeApi } from '../../../src/kube/api.ts';
import { KubeConfigError, loadKubeConfig } from '../../../src/kube/config.ts';
import { startStandInApiServer, type StandInApiServer } from './stand-in-apiserver.ts';

const SAVED = ['KUBECONFIG', 'HOME', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'] as const;
let saved: Record<string, string | undefined>;
let dir: string;
beforeEach(async () => {
  saved = Object.fromEntries(SAVED.map((name) => [name, process.env[name]]));
  for (const name of SAVED) delete process.env[name];
  dir = await mkdtemp(join(tmpdir(), 'tsd-kubeconfig-'));
  process.env['HOME'] = dir;
});
afterEach(async () => {
  for (const name of SAVED) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await rm(dir, { recursive: true, force: true });
});

describe('in a pod', () => {
  const serviceAccountDir = () => join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
  async function mountServiceAccount(): Promise<void> {
    await mkdir(serviceAccountDir(), { recursive: true });
    await writeFile(join(serviceAccountDir(), 'ca.crt'), 'CA PEM');
    await writeFile(join(serviceAccountDir(), 'token'), 'sa-token');
  }

  it('refuses to start outside a cluster, saying how to use a kubeconfig', () => {
    expect(() => loadKubeConfig(false, dir)).toThrow(KubeConfigError);
    expect(() => loadKubeConfig(false, dir)).toThrow(/KUBERNETES_SERVICE_HOST unset.*DEVELOPER_MODE=true/);
  });

  it('names the ServiceAccount file it cannot read, at start rather than at the first request', async () => {
    process.env['KUBERNETES_SERVICE_HOST'] = '10.96.0.1';
    process.env['KUBERNETES_SERVICE_PORT'] = '443';
    expect(() => loadKubeConfig(false, dir)).toThrow(`cannot read the ServiceAccount token at ${join(serviceAccountDir(), 'token')}`);
  });

  it('reaches the service address with the mounted CA and the ServiceAccount token (IPv6 bracketed)', async () => {
    await mountServiceAccount();
    process.env['KUBERNETES_SERVICE_HOST'] = 'fd00::1';
    process.env['KUBERNETES_SERVICE_PORT'] = '6443';
    const config = loadKubeConfig(false, dir);
    expect(config.getCurrentCluster()).toMatchObject({ server: 'https://[fd00::1]:6443', caFile: join(serviceAccountDir(), 'ca.crt') });
    const request = new RequestContext('https://[fd00::1]:6443/api', HttpMethod.GET);
    await config.applySecurityAuthentication(request);
    expect(request.getHeaders()['Authorization']).toBe('Bearer sa-token');
  });
});

describe('DEVELOPER_MODE: a kubeconfig', () => {
  let server: StandInApiServer;
  beforeEach(async () => {
    server = await startStandInApiServer();
  });
  afterEach(async () => {
    await server.close();
  });

  async function useKubeconfig(user: object, cluster: object = {}): Promise<void> {
    const path = join(dir, 'kubeconfig');
    await writeFile(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: server.url, 'insecure-skip-tls-verify': true, ...cluster } }],
        users: [{ name: 'u', user }],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'ctx',
      }),
    );
    process.env['KUBECONFIG'] = path;
  }

  /** The Authorization header and Host the stand-in saw for one call made with the kubeconfig, loaded once. */
  async function oneCall(
    api = createKubeApi(loadKubeConfig(true), { timeoutMs: 10_000 }),
  ): Promise<{ authorization: unknown; host: unknown }> {
    server.lists.push({ kind: 'ConfigMapList', metadata: { resourceVersion: '1' }, items: [] });
    await api.listConfigMaps('ns', 'metadata.name=sd');
    const request = server.requests.at(-1)!;
    return { authorization: request.headers['authorization'], host: request.headers['host'] };
  }

  it('refuses to start when there is none, rather than fall back to another cluster', () => {
    expect(() => loadKubeConfig(true)).toThrow('DEVELOPER_MODE=true but neither KUBECONFIG nor ~/.kube/config names a kubeconfig');
  });

  it('refuses a current context that names no cluster', async () => {
    const path = join(dir, 'kubeconfig');
    await writeFile(path, stringify({ contexts: [{ name: 'ctx', context: { cluster: 'gone', user: 'u' } }], 'current-context': 'ctx' }));
    process.env['KUBECONFIG'] = path;
    expect(() => loadKubeConfig(true)).toThrow("the kubeconfig's current context (ctx) names no cluster with a valid server URL");
  });

  it('names the file it cannot parse', async () => {
    process.env['KUBECONFIG'] = join(dir, 'missing');
    expect(() => loadKubeConfig(true)).toThrow(/DEVELOPER_MODE=true but the kubeconfig cannot be read: .*missing/);
  });

  it('reads ~/.kube/config when KUBECONFIG is unset', async () => {
    await useKubeconfig({ token: 'home-token' });
    await mkdir(join(dir, '.kube'));
    await copyFile(join(dir, 'kubeconfig'), join(dir, '.kube', 'config'));
    delete process.env['KUBECONFIG'];
    expect((await oneCall()).authorization).toBe('Bearer home-token');
  });

  it('a static token', async () => {
    await useKubeconfig({ token: 'static-token' });
    expect((await oneCall()).authorization).toBe('Bearer static-token');
  });

  it('an exec credential plugin, with the env it names, its token reused while it has not expired', async () => {
    const plugin = join(dir, 'credential-plugin.sh');
    const runs = join(dir, 'runs');
    await writeFile(
      plugin,
      `#!/bin/sh\necho run >> '${runs}'\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$PLUGIN_TOKEN"\n`,
    );
    await chmod(plugin, 0o755);
    await useKubeconfig({
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, env: [{ name: 'PLUGIN_TOKEN', value: 'exec-token' }] },
    });
    const api = createKubeApi(loadKubeConfig(true), { timeoutMs: 10_000 });
    expect((await oneCall(api)).authorization).toBe('Bearer exec-token');
    expect((await oneCall(api)).authorization).toBe('Bearer exec-token');
    // The credential states no expiry: the plugin ran once.
    expect(await readFile(runs, 'utf8')).toBe('run\n');
  });

  it('an OIDC auth-provider whose id-token is still valid', async () => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const idToken = `${encode({ alg: 'RS256' })}.${encode({ exp: 4_102_444_800, sub: 'dev' })}.c2ln`;
    await useKubeconfig({
      'auth-provider': { name: 'oidc', config: { 'id-token': idToken, 'client-id': 'k', 'idp-issuer-url': 'https://idp.invalid' } },
    });
    expect((await oneCall()).authorization).toBe(`Bearer ${idToken}`);
  });

  it('a proxy-url: the request goes through the proxy to a server name only the proxy knows', async () => {
    const path = join(dir, 'kubeconfig');
    await writeFile(
      path,
      stringify({
        clusters: [
          { name: 'c', cluster: { server: 'http://apiserver.invalid:6443', 'proxy-url': server.url, 'insecure-skip-tls-verify': true } },
        ],
        users: [{ name: 'u', user: { token: 'via-proxy' } }],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'ctx',
      }),
    );
    process.env['KUBECONFIG'] = path;
    expect(await oneCall()).toEqual({ authorization: 'Bearer via-proxy', host: 'apiserver.invalid:6443' });
  });
});
