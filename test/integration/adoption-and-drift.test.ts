import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { CoreV1Api, Watch, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash, THANOS_CONFIGMAP } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import {
  aRecords,
  expectedHash,
  expectWithin,
  logTail,
  METRICS,
  scenarioSuite,
  successfulPolls,
  waitForPolls,
  waitUntilQuiet,
} from '../support/scenario.ts';

// A repair is one watch event and one pass: the work queue adds at most 100 ms, the write one request. The 250 ms
// allowance covers the edit's own round trip (the clock starts before it is sent) and this test seeing the result by
// polling the API server every 50 ms, on 2 cores shared with every peer. The poll interval is an hour, so only the
// watch can explain a repair at all.
const REPAIR_DEADLINE_MS = 1_000 + 250;
// A deletion sent the instant the controller's repair shows lands while that pass still runs about half the time
// here; eight attempts make missing that moment on every one unlikely (about 1 in 250).
const RACE_ATTEMPTS = 8;

/**
 * The older CronJob's file (COMPAT.md): every record whose name contains `-grpc.`, in Route53's order (unsorted),
 * with its trailing dot, one line per record set, so an A and an AAAA of one name give the same line twice.
 */
function olderToolText(recordSets: readonly ResourceRecordSet[]): string {
  const targets = recordSets.filter((set) => set.Name?.includes('-grpc.')).map((set) => `  - ${set.Name}:10901\n`);
  return `- targets:\n${targets.join('')}`;
}

/**
 * Watches the ConfigMap from `resourceVersion` on and deletes it the moment it holds `text`; resolves with the time
 * the DELETE was sent.
 */
async function deleteWhenWatched(kubeConfig: KubeConfig, namespace: string, resourceVersion: string, text: string): Promise<number> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let fired = false;
  let abort: AbortController | undefined;
  try {
    return await new Promise<number>((resolve, reject) => {
      void new Watch(kubeConfig)
        .watch(
          `/api/v1/namespaces/${namespace}/configmaps`,
          { fieldSelector: `metadata.name=${THANOS_CONFIGMAP}`, resourceVersion },
          (phase: string, object: V1ConfigMap) => {
            if (fired || phase !== 'MODIFIED' || object.data?.[SD_KEY] !== text) return;
            fired = true;
            const sentAt = Date.now();
            core.deleteNamespacedConfigMap({ name: THANOS_CONFIGMAP, namespace }).then(() => resolve(sentAt), reject);
          },
          (error: unknown) => {
            if (!fired) reject(new Error('the test watch ended before the repair showed', { cause: error }));
          },
        )
        .then((watching) => (abort = watching), reject);
    });
  } finally {
    abort?.abort();
  }
}

describe('a ConfigMap changed by others', () => {
  const suite = scenarioSuite('drift');

  const core = (kubeConfig: KubeConfig) => kubeConfig.makeApiClient(CoreV1Api);

  /** A namespace with the Deployment, a zone with `hosts`, and a controller that polled once and converged on them. */
  async function convergedWithoutFurtherPolls(prefix: string, hosts: readonly string[]) {
    const { kubeConfig, namespace, zone } = await suite.prepare({
      prefix,
      domain: `${prefix}.internal.example.com`,
      records: aRecords(hosts),
    });
    // The first poll happens at start; the next one would come after an hour, so any repair comes from the watch.
    const running = await suite.startController(namespace, [zone], { POLL_INTERVAL_SECONDS: '3600' });
    const repaired = async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts);
    const rolled = async () => templateHash(await readDeployment(kubeConfig, namespace)) !== undefined;
    await waitFor(async () => (await repaired()) && (await rolled()), 'the first convergence', 30_000, logTail(running));
    expect(await successfulPolls(running)).toBe(1);
    const requests = await running.metric(METRICS.route53Requests, { zone, outcome: 'success' });
    const generation = (await readDeployment(kubeConfig, namespace))?.metadata?.generation;
    /** Neither a poll nor a restart since the first convergence. */
    const expectNoPollNoRestart = async () => {
      expect(await successfulPolls(running)).toBe(1);
      expect(await running.metric(METRICS.route53Requests, { zone, outcome: 'success' })).toBe(requests);
      const deployment = await readDeployment(kubeConfig, namespace);
      expect(deployment?.metadata?.generation).toBe(generation);
      expect(templateHash(deployment)).toBe(expectedHash(hosts));
      expect(await running.metric(METRICS.restarts)).toBe(1);
    };
    return { kubeConfig, namespace, running, repaired, expectNoPollNoRestart };
  }

  /** Replaces the ConfigMap's text, as someone with kubectl would. */
  async function editByHand(kubeConfig: KubeConfig, namespace: string): Promise<void> {
    const current = await readConfigMap(kubeConfig, namespace);
    const text = expectedFileSd(['intruder-grpc.internal.example.com']);
    await core(kubeConfig).replaceNamespacedConfigMap({
      name: THANOS_CONFIGMAP,
      namespace,
      body: { ...current, data: { [SD_KEY]: text } },
    });
  }

  it(
    'repairs a hand edit and a deletion from the last read set, with no poll and no restart',
    suite.logged(async () => {
      const hosts = ['cluster-a-grpc.repair.internal.example.com', 'cluster-b-grpc.repair.internal.example.com'];
      const { kubeConfig, namespace, running, repaired, expectNoPollNoRestart } = await convergedWithoutFurtherPolls('repair', hosts);
      const passes = () => running.metric(METRICS.reconciles, { outcome: 'success' });

      await waitUntilQuiet(running);
      const before = await passes();
      const editedAt = Date.now();
      await editByHand(kubeConfig, namespace);
      await expectWithin(editedAt, REPAIR_DEADLINE_MS, repaired, 'the hand-edited ConfigMap to be repaired', running);
      // The deletion is a separate event: it comes once the repairing pass, the first since the edit, has finished (the
      // next test has one that lands inside it).
      await waitFor(async () => (await passes()) > before, 'the repairing pass to finish', 15_000, logTail(running));

      const deletedAt = Date.now();
      await core(kubeConfig).deleteNamespacedConfigMap({ name: THANOS_CONFIGMAP, namespace });
      await expectWithin(deletedAt, REPAIR_DEADLINE_MS, repaired, 'the deleted ConfigMap to be recreated', running);

      expect(await running.metric(METRICS.configMapWrites, { operation: 'update' })).toBe(1);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'create' })).toBe(2);
      await expectNoPollNoRestart();
    }),
  );

  // A pass waits for its own write to reach its cache. A deletion that lands in that moment must still be repaired
  // within the deadline. It is a race, so it is tried RACE_ATTEMPTS times, each deletion sent the instant a watch
  // shows the controller's repair.
  it(
    'repairs a deletion that comes right after its own repair, within the same deadline',
    suite.logged(async () => {
      const hosts = ['cluster-a-grpc.race.internal.example.com', 'cluster-b-grpc.race.internal.example.com'];
      const { kubeConfig, namespace, running, repaired, expectNoPollNoRestart } = await convergedWithoutFurtherPolls('race', hosts);
      for (let attempt = 1; attempt <= RACE_ATTEMPTS; attempt++) {
        const resourceVersion = (await readConfigMap(kubeConfig, namespace))?.metadata?.resourceVersion ?? '';
        const deletion = deleteWhenWatched(kubeConfig, namespace, resourceVersion, expectedFileSd(hosts));
        await editByHand(kubeConfig, namespace);
        const deletedAt = await deletion;
        await expectWithin(
          deletedAt,
          REPAIR_DEADLINE_MS,
          repaired,
          `the ConfigMap deleted after repair ${attempt} to be recreated`,
          running,
        );
      }
      await expectNoPollNoRestart();
    }),
  );

  it(
    "adopts the older tool's ConfigMap of the same set: no write, no restart",
    suite.logged(async () => {
      // Route53 lists names by reversed labels, so eu-west's cluster-b comes before us-east's cluster-a.
      const a = 'cluster-a-grpc.us-east.internal.example.com';
      const b = 'cluster-b-grpc.eu-west.internal.example.com';
      const { kubeConfig, namespace, zone, deployment } = await suite.prepare({
        prefix: 'adopt',
        records: [
          ...aRecords([a, b]),
          { name: a, type: 'AAAA', value: 'fd00::1' },
          { name: 'cluster-a-http.us-east.internal.example.com', type: 'A', value: '10.1.0.1' },
        ],
      });
      const text = olderToolText((await suite.peers.route53.listRecordSets(zone)).recordSets);
      // The file this test relies on: unsorted, trailing dots, and one line twice.
      expect(text).toBe(`- targets:\n  - ${b}.:10901\n  - ${a}.:10901\n  - ${a}.:10901\n`);
      const created = await core(kubeConfig).createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: THANOS_CONFIGMAP }, data: { [SD_KEY]: text } },
      });

      const running = await suite.startController(namespace, [zone]);
      await running.waitUntilReady();
      // The endpoints gauge is set by a pass that converged, so it proves the controller looked and found no work.
      await waitFor(async () => (await running.metric(METRICS.endpoints)) === 2, 'a converged pass', 15_000, logTail(running));
      await waitForPolls(running, 5);

      const configMap = await readConfigMap(kubeConfig, namespace);
      expect(configMap?.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
      expect(configMap?.data?.[SD_KEY]).toBe(text);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'create' })).toBe(0);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'update' })).toBe(0);
      const after = await readDeployment(kubeConfig, namespace);
      expect(templateHash(after)).toBeUndefined();
      expect(after?.metadata?.generation).toBe(1);
      expect(after?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
      expect(await running.metric(METRICS.restarts)).toBe(0);
    }),
  );
});
