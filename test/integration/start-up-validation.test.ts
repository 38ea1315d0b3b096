// Settings the API server or fetch would only refuse later (a ConfigMap key at the first write, a hook URL with
// credentials at the first alert) are refused at start-up with exit 2, and by the chart's schema at `helm install`.
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { chartInstallArgs, helmForTests } from '../support/tools.ts';
import { readConfigMap, readDeployment } from '../support/thanos.ts';
import { aRecords, scenarioSuite } from '../support/scenario.ts';
import type { ControllerProcess } from '../support/controller-process.ts';

const EXIT_TIMEOUT_MS = 30_000;
const REQUIRED_ENV = { PRIVATE_HOSTED_ZONE_ID: 'Z1', THANOS_NAMESPACE: 'ns', THANOS_DEPLOYMENT_NAME: 'd', THANOS_CONFIGMAP_NAME: 'c' };

function keyAccepted(key: string): boolean {
  try {
    loadConfig({ ...REQUIRED_ENV, CONFIGMAP_KEY: key });
    return true;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
}

/** The exit code, or 'still running' when the process has not exited within EXIT_TIMEOUT_MS. */
function exitOf(running: ControllerProcess): Promise<number | null | 'still running'> {
  return Promise.race([
    running.exited,
    new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), EXIT_TIMEOUT_MS).unref()),
  ]);
}

describe('start-up validation', () => {
  const suite = scenarioSuite('start-up', { webhookReceiver: true });
  const helm = helmForTests();

  async function world(prefix: string) {
    const hosts = [`cluster-a-grpc.${prefix}.internal.example.com`];
    const prepared = await suite.prepare({ prefix, domain: `${prefix}.internal.example.com`, records: aRecords(hosts) });
    return { ...prepared, hosts };
  }

  it.each(['.', '..', '..data', 'a/b', 'k'.repeat(254), '.sd.yml', 'a..b', 'k'.repeat(253)])(
    'judges ConfigMap key %s as the real API server does',
    async (key) => {
      const kubeConfig = suite.peers.controlPlane.kubeConfig();
      const namespace = await suite.peers.controlPlane.createNamespace('key-rule');
      let apiAccepts = true;
      try {
        await kubeConfig
          .makeApiClient(CoreV1Api)
          .createNamespacedConfigMap({ namespace, body: { metadata: { name: 'probe' }, data: { [key]: 'x' } } });
      } catch (error) {
        if (!(error instanceof ApiException) || error.code !== 422) throw error;
        apiAccepts = false;
      }
      expect(keyAccepted(key)).toBe(apiAccepts);
    },
  );

  it(
    'exits 2 on CONFIGMAP_KEY=.. with the reason, before touching Kubernetes',
    suite.logged(async () => {
      const { kubeConfig, namespace, zone } = await world('bad-key');
      const deployment = await readDeployment(kubeConfig, namespace);

      const running = await suite.startController(namespace, [zone], { CONFIGMAP_KEY: '..', RUN_ONCE: 'true' });
      expect(await exitOf(running)).toBe(2);

      expect(running.output()).toMatch(
        /^config error: CONFIGMAP_KEY="\.\." is not a valid ConfigMap key: it must not be "\." or "\.\.", nor start with "\.\."$/m,
      );
      expect(await readConfigMap(kubeConfig, namespace)).toBeUndefined();
      expect((await readDeployment(kubeConfig, namespace))?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
    }),
  );

  it(
    'exits 2 on a hook URL with credentials, never echoing it and never posting to it',
    suite.logged(async () => {
      const { kubeConfig, namespace, zone } = await world('hook-credentials');
      const hook = new URL(suite.receiver.url);
      hook.username = 'alerts';
      hook.password = 'pa55word';

      const running = await suite.startController(namespace, [zone], { RUN_ONCE: 'true' }, { hookUrl: hook.href });
      expect(await exitOf(running)).toBe(2);

      expect(running.output()).toMatch(/^config error: MATTERMOST_ALERTS_HOOK must not carry credentials \(user:password@\)/m);
      expect(running.output()).not.toContain('pa55word');
      expect(running.output()).not.toContain(hook.pathname);
      expect(suite.receiver.posts).toHaveLength(0);
      expect(await readConfigMap(kubeConfig, namespace)).toBeUndefined();
    }),
  );

  describe('helm install refuses', () => {
    async function install(namespace: string, ...args: string[]) {
      return helm.run(chartInstallArgs('tsd', namespace, suite.peers.controlPlane.kubeconfigPath, ...args));
    }

    it.each(['..', '.', '..data', 'a/b', 'k'.repeat(254)])('thanos.configMapKey=%s', async (key) => {
      const namespace = await suite.peers.controlPlane.createNamespace('helm-key');
      const result = await install(namespace, '--set-string', `thanos.configMapKey=${key}`);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("'/thanos/configMapKey'");
      expect(await readDeployment(suite.peers.controlPlane.kubeConfig(), namespace, 'tsd-thanos-store-discovery')).toBeUndefined();
    });

    it.each([
      ['user and password', 'https://alerts:pa55word@chat.example.com/hooks/abc'],
      ['a user alone', 'https://pa55word@chat.example.com/hooks/abc'],
      ['another scheme', 'ftp://chat.example.com/hooks/pa55word'],
    ])('a hook URL with %s', async (_case, url) => {
      const namespace = await suite.peers.controlPlane.createNamespace('helm-hook');
      const result = await install(namespace, '--set-string', `alerts.mattermostHook.url=${url}`);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("'/alerts/mattermostHook/url'");
      // The URL is a secret: helm's message names the value's path, never the value.
      expect(result.stderr).not.toContain('pa55word');
    });

    it('installs with keys and hook URLs Kubernetes and fetch accept', async () => {
      const namespace = await suite.peers.controlPlane.createNamespace('helm-valid');
      const result = await install(
        namespace,
        '--set-string',
        'thanos.configMapKey=.sd_v2-a..b.yml',
        '--set-string',
        'alerts.mattermostHook.url=https://chat.example.com:8065/hooks/x@y?z=1',
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    });
  });
});
