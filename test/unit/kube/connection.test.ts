import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KubeConfigError, inClusterConnection, kubeconfigConnection } from '../../../src/kube/connection.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsd-connection-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('inClusterConnection', () => {
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  it('refuses to start outside a cluster, saying how to use a kubeconfig', () => {
    expect(() => inClusterConnection({}, dir)).toThrow(/KUBERNETES_SERVICE_HOST unset.*DEVELOPER_MODE=true/);
  });

  it('reaches the service address with the mounted CA and the ServiceAccount token', async () => {
    await writeFile(join(dir, 'ca.crt'), 'CA PEM');
    await writeFile(join(dir, 'token'), 'sa-token\n');

    const connection = inClusterConnection(env, dir);

    expect(connection.server.href).toBe('https://10.96.0.1/');
    expect(connection.ca?.toString()).toBe('CA PEM');
    expect(connection.insecureSkipTlsVerify).toBe(false);
    await expect(connection.authorization()).resolves.toBe('Bearer sa-token');
  });

  it('brackets an IPv6 service address', async () => {
    await writeFile(join(dir, 'ca.crt'), 'CA PEM');
    await writeFile(join(dir, 'token'), 't');
    expect(inClusterConnection({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, dir).server.href).toBe(
      'https://[fd00::1]:6443/',
    );
  });

  it('names the file it could not read', () => {
    expect(() => inClusterConnection(env, dir)).toThrow(KubeConfigError);
    expect(() => inClusterConnection(env, dir)).toThrow(`cannot read the ServiceAccount CA at ${join(dir, 'ca.crt')}`);
  });
});

describe('kubeconfigConnection', () => {
  async function kubeconfig(name: string, document: object): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, stringify(document));
    return path;
  }
  const context = (user: string) => ({
    'current-context': 'test',
    contexts: [{ name: 'test', context: { cluster: 'local', user } }],
    clusters: [{ name: 'local', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('CA PEM') } }],
  });

  it('uses the current context: server, inline CA, client certificate and key', async () => {
    const path = await kubeconfig('config', {
      ...context('admin'),
      users: [{ name: 'admin', user: { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') } }],
    });

    const connection = kubeconfigConnection({ KUBECONFIG: path });

    expect(connection.server.href).toBe('https://127.0.0.1:6443/');
    expect([connection.ca?.toString(), connection.cert?.toString(), connection.key?.toString()]).toEqual(['CA PEM', 'CERT', 'KEY']);
    await expect(connection.authorization()).resolves.toBeUndefined();
  });

  it('reads files named relative to the kubeconfig, and a token', async () => {
    await mkdir(join(dir, 'pki'));
    await writeFile(join(dir, 'pki', 'ca.crt'), 'FILE CA');
    const path = await kubeconfig('config', {
      'current-context': 'test',
      contexts: [{ name: 'test', context: { cluster: 'local', user: 'sa' } }],
      clusters: [{ name: 'local', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': 'pki/ca.crt' } }],
      users: [{ name: 'sa', user: { token: 'abc' } }],
    });

    const connection = kubeconfigConnection({ KUBECONFIG: path });

    expect(connection.ca?.toString()).toBe('FILE CA');
    await expect(connection.authorization()).resolves.toBe('Bearer abc');
  });

  it('merges a KUBECONFIG list, the first file to name an entry winning, as kubectl does', async () => {
    const first = await kubeconfig('first', { ...context('sa'), users: [{ name: 'sa', user: { token: 'first' } }] });
    const second = await kubeconfig('second', { 'current-context': 'other', users: [{ name: 'sa', user: { token: 'second' } }] });

    const connection = kubeconfigConnection({ KUBECONFIG: `${join(dir, 'missing')}:${first}:${second}` });

    await expect(connection.authorization()).resolves.toBe('Bearer first');
  });

  it('runs an exec credential plugin and reuses its token until it expires', async () => {
    const counter = join(dir, 'runs');
    const script = [
      `const fs = require('node:fs');`,
      `fs.appendFileSync(${JSON.stringify(counter)}, 'x');`,
      `const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);`,
      `process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential',`,
      `  status: { token: 'from-' + process.env.PLUGIN_NAME, expirationTimestamp: '2999-01-01T00:00:00Z' } }));`,
    ].join('\n');
    const path = await kubeconfig('config', {
      ...context('eks'),
      users: [
        {
          name: 'eks',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1beta1',
              command: process.execPath,
              args: ['-e', script],
              env: [{ name: 'PLUGIN_NAME', value: 'plugin' }],
            },
          },
        },
      ],
    });

    const connection = kubeconfigConnection({ KUBECONFIG: path });

    await expect(connection.authorization()).resolves.toBe('Bearer from-plugin');
    await expect(connection.authorization()).resolves.toBe('Bearer from-plugin');
    expect(await readFile(counter, 'utf8')).toBe('x');
  });

  it('checks the certificate against tls-server-name when the kubeconfig gives one', async () => {
    const path = await kubeconfig('config', {
      ...context('sa'),
      clusters: [{ name: 'local', cluster: { server: 'https://10.0.0.1:6443', 'tls-server-name': 'api.internal' } }],
      users: [{ name: 'sa', user: { token: 't' } }],
    });
    expect(kubeconfigConnection({ KUBECONFIG: path }).tlsServerName).toBe('api.internal');
  });

  it('refuses a proxy-url rather than bypassing the proxy', async () => {
    const path = await kubeconfig('config', {
      ...context('sa'),
      clusters: [{ name: 'local', cluster: { server: 'https://10.0.0.1:6443', 'proxy-url': 'http://proxy:3128' } }],
      users: [{ name: 'sa', user: { token: 't' } }],
    });
    expect(() => kubeconfigConnection({ KUBECONFIG: path })).toThrow(/cluster local uses a proxy-url, which is not supported/);
  });

  it('refuses an auth-provider user, naming it', async () => {
    const path = await kubeconfig('config', { ...context('gcp'), users: [{ name: 'gcp', user: { 'auth-provider': { name: 'gcp' } } }] });
    expect(() => kubeconfigConnection({ KUBECONFIG: path })).toThrow(/user gcp uses an auth-provider/);
  });

  it('says so when no kubeconfig names a current context', async () => {
    expect(() => kubeconfigConnection({ KUBECONFIG: join(dir, 'missing') })).toThrow(/no current context in KUBECONFIG/);
  });
});

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}
