// A ConfigMap that a Helm release owns (the Thanos chart, say): the controller writes only its key and its
// annotation, so the owner's labels stay as Helm set them and the owner's next `helm upgrade` (server-side apply,
// Helm 4's default) goes through. Run with the real helm binary against the real kube-apiserver.
import { fileURLToPath } from 'node:url';
import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { helmForTests, type ToolResult } from '../support/tools.ts';
import { expectedFileSd, HASH_ANNOTATION, readConfigMap, SD_KEY, THANOS_CONFIGMAP } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, expectedHash, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';
import type { ControllerProcess } from '../support/controller-process.ts';

const OWNER_CHART = fileURLToPath(new URL('../fixtures/thanos-owner-chart', import.meta.url));
const OWNER = 'thanos';
const FIELD_MANAGER = 'thanos-store-discovery';

describe('a ConfigMap owned by a Helm release', () => {
  const suite = scenarioSuite('helm-owned');
  const helm = helmForTests();

  async function owner(verb: 'install' | 'upgrade', namespace: string, ...args: string[]): Promise<ToolResult> {
    return helm.run([verb, OWNER, OWNER_CHART, '--namespace', namespace, '--kubeconfig', suite.peers.controlPlane.kubeconfigPath, ...args]);
  }

  async function installed(namespace: string, ...args: string[]): Promise<void> {
    const result = await owner('install', namespace, ...args);
    if (result.code !== 0) throw new Error(`helm install of the owner failed (${result.code}):\n${result.stderr}`);
  }

  /** The owner's metadata and key, as Helm left them. */
  function ownersPart(configMap: V1ConfigMap | undefined) {
    const { [HASH_ANNOTATION]: _ours, ...annotations } = configMap?.metadata?.annotations ?? {};
    return { labels: configMap?.metadata?.labels, annotations, query: configMap?.data?.['query.yml'] };
  }

  async function published(kubeConfig: KubeConfig, namespace: string, hosts: readonly string[], running: ControllerProcess): Promise<void> {
    await waitFor(
      async () => {
        const configMap = await readConfigMap(kubeConfig, namespace);
        return (
          configMap?.data?.[SD_KEY] === expectedFileSd(hosts) && configMap.metadata?.annotations?.[HASH_ANNOTATION] === expectedHash(hosts)
        );
      },
      "our key and annotation in the owner's ConfigMap",
      30_000,
      logTail(running),
    );
  }

  it(
    "keeps the owner's labels and annotations, and the owner's helm upgrade succeeds without touching our key",
    suite.logged(async () => {
      const domain = 'helm-owned.internal.example.com';
      const hosts = [`cluster-a-grpc.${domain}`, `cluster-b-grpc.${domain}`];
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'helm-owned', domain, records: aRecords(hosts) });
      await installed(namespace);
      const before = ownersPart(await readConfigMap(kubeConfig, namespace));
      expect(before.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');

      const running = await suite.startController(namespace, [zone]);
      await published(kubeConfig, namespace, hosts, running);
      const written = await readConfigMap(kubeConfig, namespace);

      const upgraded = await owner('upgrade', namespace, '--set', 'replicas=3');
      expect(upgraded.stderr).toBe('');
      expect(upgraded.code).toBe(0);

      expect(ownersPart(written)).toEqual(before);
      // Our manager owns exactly our key and our annotation.
      const ours = written?.metadata?.managedFields?.filter((entry) => entry.manager === FIELD_MANAGER);
      expect(ours?.map((entry) => entry.operation)).toEqual(['Apply']);
      expect(ours?.[0]?.fieldsV1).toEqual({
        'f:data': { [`f:${SD_KEY}`]: {} },
        'f:metadata': { 'f:annotations': { [`f:${HASH_ANNOTATION}`]: {} } },
      });

      const after = await readConfigMap(kubeConfig, namespace);
      expect(ownersPart(after)).toEqual({
        ...before,
        annotations: { ...before.annotations, 'owner.example.com/revision': '2' },
        query: 'replicas: 3\n',
      });
      expect(after?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
      expect(after?.metadata?.annotations?.[HASH_ANNOTATION]).toBe(expectedHash(hosts));
      // Nothing of ours changed, so nothing to repair: a couple of passes later still one write.
      await waitForPolls(running, 2);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'update' })).toBe(1);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'create' })).toBe(0);
    }),
  );

  it(
    'when the owner renders our key too: its upgrade goes through with --force-conflicts and the controller restores the key once',
    suite.logged(async () => {
      const domain = 'helm-shared-key.internal.example.com';
      const hosts = [`cluster-a-grpc.${domain}`];
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'helm-shared-key', domain, records: aRecords(hosts) });
      const placeholder = '- targets: []';
      await installed(namespace, '--set-string', `storeList=${placeholder}`);

      const running = await suite.startController(namespace, [zone]);
      await published(kubeConfig, namespace, hosts, running);

      // Two managers want different text in one field: server-side apply refuses the owner's change unless forced.
      const refused = await owner('upgrade', namespace, '--set-string', `storeList=${placeholder}`, '--set', 'replicas=2');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(new RegExp(`conflict.*${FIELD_MANAGER}`, 'i'));

      const forced = await owner(
        'upgrade',
        namespace,
        '--set-string',
        `storeList=${placeholder}`,
        '--set',
        'replicas=2',
        '--force-conflicts',
      );
      expect(forced.stderr).toBe('');
      expect(forced.code).toBe(0);
      // The upgrade put the placeholder back; the controller restores the list with one write and stops there.
      await published(kubeConfig, namespace, hosts, running);
      await waitForPolls(running, 3);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'update' })).toBe(2);
      const after = await readConfigMap(kubeConfig, namespace);
      expect(after?.data?.['query.yml']).toBe('replicas: 2\n');
      expect(after?.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    }),
  );

  it(
    'creates a missing ConfigMap with its managed-by label, which Helm then refuses to adopt',
    suite.logged(async () => {
      const domain = 'created-first.internal.example.com';
      const hosts = [`cluster-a-grpc.${domain}`];
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'created-first', domain, records: aRecords(hosts) });
      const running = await suite.startController(namespace, [zone]);
      await waitFor(
        async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts),
        'the created ConfigMap',
        30_000,
        logTail(running),
      );
      const created = await readConfigMap(kubeConfig, namespace);
      expect(created?.metadata?.name).toBe(THANOS_CONFIGMAP);
      expect(created?.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'thanos-store-discovery' });
      // The object is the controller's; a release that wants it must be told (helm's own ownership check).
      const result = await owner('install', namespace);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('invalid ownership metadata');
    }),
  );
});
