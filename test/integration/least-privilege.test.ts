// The chart's Role is all the controller needs, and no more: the controller runs here with a token for the chart's
// own ServiceAccount (not as the admin) through a fresh start and its repairs, and the API server's authorizer is
// asked what else that account could do.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiException, AppsV1Api, CoreV1Api, type V1ResourceAttributes } from '@kubernetes/client-node';
import { chartInstallArgs, helmForTests } from '../support/tools.ts';
import { accessDecisions, kubeConfigFrom, writeExecPluginKubeconfig, writeServiceAccountKubeconfig } from '../support/service-account.ts';
import {
  expectedFileSd,
  readConfigMap,
  readDeployment,
  SD_KEY,
  templateHash,
  THANOS_CONFIGMAP,
  THANOS_DEPLOYMENT,
} from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, eventCount, expectedHash, logTail, scenarioSuite } from '../support/scenario.ts';

const RELEASE = 'tsd';
const ACCOUNT = 'tsd-thanos-store-discovery';

describe("least privilege: the chart's own ServiceAccount", () => {
  const suite = scenarioSuite('least-privilege');
  const helm = helmForTests();

  /** The chart installed for the test's Thanos objects, and a kubeconfig holding a token for its ServiceAccount. */
  async function installChart(namespace: string, writeKubeconfig = writeServiceAccountKubeconfig): Promise<string> {
    const { controlPlane } = suite.peers;
    const result = await helm.run(
      chartInstallArgs(
        RELEASE,
        namespace,
        controlPlane.kubeconfigPath,
        '--set',
        `thanos.configMapName=${THANOS_CONFIGMAP}`,
        '--set',
        `thanos.deploymentName=${THANOS_DEPLOYMENT}`,
      ),
    );
    if (result.code !== 0) throw new Error(`helm install failed (${result.code}):\n${result.stderr}`);
    return writeKubeconfig(controlPlane.kubeConfig(), { namespace, name: ACCOUNT }, join(controlPlane.dir, `${namespace}-sa.kubeconfig`));
  }

  it(
    "converges, repairs and rolls as the chart's ServiceAccount, with no request refused",
    suite.logged(async () => {
      const domain = 'least-privilege.internal.example.com';
      const hosts = [`cluster-a-grpc.${domain}`, `cluster-b-grpc.${domain}`];
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'least-privilege', domain, records: aRecords(hosts) });
      const kubeconfigPath = await installChart(namespace);

      const running = await suite.startController(namespace, [zone], { KUBECONFIG: kubeconfigPath });
      const converged = async () =>
        (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts) &&
        templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(hosts);
      await waitFor(converged, 'the first convergence as the ServiceAccount', 30_000, logTail(running));
      // The restart's Event is recorded after the Deployment patch, so it may land just after convergence is seen.
      await waitFor(
        async () => (await eventCount(kubeConfig, namespace)) > 0,
        'the restart recorded as an Event',
        15_000,
        logTail(running),
      );
      expect(await eventCount(kubeConfig, namespace)).toBe(1);

      // A repair is a server-side apply (patch); a restore after a delete is a create.
      const core = kubeConfig.makeApiClient(CoreV1Api);
      await core.patchNamespacedConfigMap({
        namespace,
        name: THANOS_CONFIGMAP,
        body: [{ op: 'replace', path: `/data/${SD_KEY}`, value: '- targets: []' }],
      });
      await waitFor(converged, 'the hand edit repaired', 15_000, logTail(running));
      await core.deleteNamespacedConfigMap({ namespace, name: THANOS_CONFIGMAP });
      await waitFor(converged, 'the deleted ConfigMap restored', 15_000, logTail(running));

      // A new record: a write of the ConfigMap and a roll of the Deployment.
      const more = [...hosts, `cluster-c-grpc.${domain}`];
      await suite.peers.route53.upsertRecords(zone, aRecords(more));
      await waitFor(
        async () => templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(more),
        'the new record published and rolled',
        30_000,
        logTail(running),
      );
      expect(running.output()).not.toMatch(/forbidden|HTTP 403/i);
    }),
  );

  it(
    'authenticates through a kubeconfig exec credential plugin (DEVELOPER_MODE), and reuses a token without expiry',
    suite.logged(async () => {
      const domain = 'exec-plugin.internal.example.com';
      const hosts = [`cluster-a-grpc.${domain}`];
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'exec-plugin', domain, records: aRecords(hosts) });
      const kubeconfigPath = await installChart(namespace, writeExecPluginKubeconfig);

      const running = await suite.startController(namespace, [zone], { KUBECONFIG: kubeconfigPath });
      await waitFor(
        async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts),
        "the ConfigMap written with the plugin's credential",
        30_000,
        logTail(running),
      );
      await waitFor(
        async () => templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(hosts),
        "the Deployment rolled with the plugin's credential",
        30_000,
        logTail(running),
      );
      // client-node caches the credential once a run has finished; requests already waiting on the first run (the
      // two informers' lists start together) may each have run the plugin.
      const runs = async () => (await readFile(`${kubeconfigPath}.runs`, 'utf8')).split('\n').filter(Boolean).length;
      const runsAtStart = await runs();
      expect(runsAtStart).toBeGreaterThanOrEqual(1);
      expect(runsAtStart).toBeLessThanOrEqual(2);

      const more = [...hosts, `cluster-b-grpc.${domain}`];
      await suite.peers.route53.upsertRecords(zone, aRecords(more));
      await waitFor(
        async () => templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(more),
        'the new record published and rolled',
        30_000,
        logTail(running),
      );
      expect(await runs()).toBe(runsAtStart);
      expect(running.output()).not.toMatch(/HTTP 401|HTTP 403|forbidden/i);
    }),
  );

  it("may list only its own ConfigMap: a plain list, which would show every ConfigMap's data, is refused", async () => {
    const namespace = await suite.peers.controlPlane.createNamespace('lp-list');
    const admin = suite.peers.controlPlane.kubeConfig();
    const kubeconfigPath = await installChart(namespace);
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: THANOS_CONFIGMAP }, data: { [SD_KEY]: '- targets: []' } },
    });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'app-settings' }, data: { password: 'hunter2' } } });
    const asAccount = kubeConfigFrom(kubeconfigPath);
    const accountCore = asAccount.makeApiClient(CoreV1Api);
    const status = (call: Promise<unknown>) =>
      call.then(
        () => 200,
        (error: unknown) =>
          error instanceof ApiException ? error.code : Promise.reject(error instanceof Error ? error : new Error(String(error))),
      );

    const own = await accountCore.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${THANOS_CONFIGMAP}` });
    expect(own.items.map((item) => item.metadata?.name)).toEqual([THANOS_CONFIGMAP]);
    expect(await status(accountCore.listNamespacedConfigMap({ namespace }))).toBe(403);
    expect(await status(accountCore.listNamespacedConfigMap({ namespace, fieldSelector: 'metadata.name=app-settings' }))).toBe(403);
    expect(await status(accountCore.readNamespacedConfigMap({ namespace, name: 'app-settings' }))).toBe(403);
    const apps = asAccount.makeApiClient(AppsV1Api);
    expect(await status(apps.listNamespacedDeployment({ namespace, fieldSelector: `metadata.name=${THANOS_DEPLOYMENT}` }))).toBe(200);
    expect(await status(apps.listNamespacedDeployment({ namespace }))).toBe(403);
  });

  it('is allowed exactly what the code uses, and denied the rest', async () => {
    const namespace = await suite.peers.controlPlane.createNamespace('lp-review');
    await installChart(namespace);
    const at = (attributes: V1ResourceAttributes): V1ResourceAttributes => ({ namespace, ...attributes });
    const configMap = (verb: string, name?: string) => at({ resource: 'configmaps', verb, ...(name === undefined ? {} : { name }) });
    const deployment = (verb: string, name?: string) =>
      at({ group: 'apps', resource: 'deployments', verb, ...(name === undefined ? {} : { name }) });

    const decisions = await accessDecisions(
      suite.peers.controlPlane.kubeConfig(),
      { namespace, name: ACCOUNT },
      {
        'list our ConfigMap': configMap('list', THANOS_CONFIGMAP),
        'watch our ConfigMap': configMap('watch', THANOS_CONFIGMAP),
        'patch our ConfigMap (server-side apply)': configMap('patch', THANOS_CONFIGMAP),
        'create ConfigMaps': configMap('create'),
        'list our Deployment': deployment('list', THANOS_DEPLOYMENT),
        'watch our Deployment': deployment('watch', THANOS_DEPLOYMENT),
        'patch our Deployment': deployment('patch', THANOS_DEPLOYMENT),
        'create Events': at({ resource: 'events', verb: 'create' }),

        'get our ConfigMap': configMap('get', THANOS_CONFIGMAP),
        'update our ConfigMap': configMap('update', THANOS_CONFIGMAP),
        'delete our ConfigMap': configMap('delete', THANOS_CONFIGMAP),
        'list all ConfigMaps': configMap('list'),
        'watch all ConfigMaps': configMap('watch'),
        'list another ConfigMap': configMap('list', 'app-settings'),
        'watch another ConfigMap': configMap('watch', 'app-settings'),
        'get another ConfigMap': configMap('get', 'app-settings'),
        'patch another ConfigMap': configMap('patch', 'app-settings'),
        'get our Deployment': deployment('get', THANOS_DEPLOYMENT),
        'update our Deployment': deployment('update', THANOS_DEPLOYMENT),
        'delete our Deployment': deployment('delete', THANOS_DEPLOYMENT),
        'list all Deployments': deployment('list'),
        'watch all Deployments': deployment('watch'),
        'list another Deployment': deployment('list', 'other'),
        'watch another Deployment': deployment('watch', 'other'),
        'patch another Deployment': deployment('patch', 'other'),
        'patch Events': at({ resource: 'events', verb: 'patch' }),
        'get a Secret': at({ resource: 'secrets', verb: 'get', name: 'tsd-thanos-store-discovery-alerts' }),
        'list Secrets': at({ resource: 'secrets', verb: 'list' }),
        'watch Secrets': at({ resource: 'secrets', verb: 'watch' }),
        'get a Pod': at({ resource: 'pods', verb: 'get', name: 'thanos-query-0' }),
        'list Pods': at({ resource: 'pods', verb: 'list' }),
        'delete Pods': at({ resource: 'pods', verb: 'delete' }),
        'list our ConfigMap in another namespace': { namespace: 'default', resource: 'configmaps', verb: 'list', name: THANOS_CONFIGMAP },
        'patch our ConfigMap in another namespace': { namespace: 'default', resource: 'configmaps', verb: 'patch', name: THANOS_CONFIGMAP },
        'create ConfigMaps in another namespace': { namespace: 'default', resource: 'configmaps', verb: 'create' },
        'patch our Deployment in another namespace': {
          namespace: 'default',
          group: 'apps',
          resource: 'deployments',
          verb: 'patch',
          name: THANOS_DEPLOYMENT,
        },
        'create Events in another namespace': { namespace: 'default', resource: 'events', verb: 'create' },
      },
    );

    const allowed = Object.entries(decisions)
      .filter(([, ok]) => ok)
      .map(([label]) => label);
    expect(allowed).toEqual([
      'list our ConfigMap',
      'watch our ConfigMap',
      'patch our ConfigMap (server-side apply)',
      'create ConfigMaps',
      'list our Deployment',
      'watch our Deployment',
      'patch our Deployment',
      'create Events',
    ]);
  });
});
