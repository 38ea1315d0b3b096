import type { KubeConfig } from '@kubernetes/client-node';
import type { ControllerProcess } from '../support/controller-process.ts';
import { expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, eventCount, expectedHash, expectWithin, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';

// The controller polls every second (controllerEnv). At worst a change lands just after a poll read the zone, so the
// next poll starts within 1 s and the pass after it must have published within 1 s more. converged() returns just
// after a poll, so the changes below land at about that worst moment.
const POLL_INTERVAL_MS = 1_000;
// The allowance covers what the scenario's 2 s does not: the clock starts before the UPSERT request is sent (moto's
// round trip is inside the measurement), and this test sees the result by polling the API server every 50 ms with
// two GETs, all on 2 cores shared with kube-apiserver, etcd, moto and the controller. 500 ms is several times
// those costs and still far below the next poll interval, so a pass that waited for another poll would still fail.
const ALLOWANCE_MS = 500;
const CHANGE_DEADLINE_MS = POLL_INTERVAL_MS + 1_000 + ALLOWANCE_MS;

/** Full names in the test's domain for host labels. */
type Hosts = (labels: readonly string[]) => string[];

describe('convergence on Route53 changes', () => {
  const suite = scenarioSuite('convergence');

  /** A namespace with the Deployment, a zone with `hosts`, and a controller that has published them and rolled once. */
  async function converged(prefix: string, hosts: readonly string[]) {
    const { kubeConfig, namespace, zone } = await suite.prepare({
      prefix,
      domain: `${prefix}.internal.example.com`,
      records: aRecords(hosts),
    });
    const started = await suite.startController(namespace, [zone]);
    await waitFor(() => publishes(kubeConfig, namespace, hosts), 'the first convergence', 30_000, logTail(started));
    // One more poll, so the pass of the poll that converged has finished before the test changes anything.
    await waitForPolls(started, 1);
    return { kubeConfig, namespace, zone, controller: started };
  }

  async function publishes(kubeConfig: KubeConfig, namespace: string, hosts: readonly string[]): Promise<boolean> {
    const [configMap, deployment] = await Promise.all([readConfigMap(kubeConfig, namespace), readDeployment(kubeConfig, namespace)]);
    return configMap?.data?.[SD_KEY] === expectedFileSd(hosts) && templateHash(deployment) === expectedHash(hosts);
  }

  async function counters(running: ControllerProcess) {
    return {
      updates: await running.metric(METRICS.configMapWrites, { operation: 'update' }),
      creates: await running.metric(METRICS.configMapWrites, { operation: 'create' }),
      restarts: await running.metric(METRICS.restarts),
    };
  }

  const a = 'cluster-a-grpc';
  const b = 'cluster-b-grpc';
  const c = 'cluster-c-grpc';
  const title = 'publishes $scenario and rolls the pods once, within a poll interval and a second';
  it.each([
    {
      scenario: 'an added record',
      prefix: 'added',
      before: [a, b],
      after: [a, b, c],
      change: (zone: string, hosts: Hosts) => suite.peers.route53.upsertRecords(zone, aRecords(hosts([c]))),
    },
    {
      scenario: 'a removed record',
      prefix: 'removed',
      before: [a, b, c],
      after: [a, c],
      // A DELETE must repeat the record exactly as it was upserted: the second of aRecords(before).
      change: (zone: string, hosts: Hosts) => suite.peers.route53.deleteRecords(zone, aRecords(hosts([a, b, c])).slice(1, 2)),
    },
  ])(
    title,
    suite.logged(async ({ prefix, before, after, change }) => {
      const hosts: Hosts = (labels) => labels.map((label) => `${label}.${prefix}.internal.example.com`);
      const { kubeConfig, namespace, zone, controller: running } = await converged(prefix, hosts(before));
      const generation = (await readDeployment(kubeConfig, namespace))?.metadata?.generation;
      const start = await counters(running);

      const changedAt = Date.now();
      await change(zone, hosts);
      const followed = () => publishes(kubeConfig, namespace, hosts(after));
      await expectWithin(changedAt, CHANGE_DEADLINE_MS, followed, 'the ConfigMap and the annotation to follow the change', running);

      // Later polls see the same set: still exactly one ConfigMap update and one new pod template.
      await waitForPolls(running, 3);
      expect(await followed()).toBe(true);
      expect((await readDeployment(kubeConfig, namespace))?.metadata?.generation).toBe((generation ?? NaN) + 1);
      expect(await counters(running)).toEqual({ ...start, updates: start.updates + 1, restarts: start.restarts + 1 });
    }),
  );

  it(
    'makes no write to the API server over 10 polls that find nothing new',
    suite.logged(async () => {
      const hosts = [a, b].map((label) => `${label}.quiet.internal.example.com`);
      const { kubeConfig, namespace, controller: running } = await converged('quiet', hosts);
      const read = async () => {
        const [configMap, deployment, events] = await Promise.all([
          readConfigMap(kubeConfig, namespace),
          readDeployment(kubeConfig, namespace),
          eventCount(kubeConfig, namespace),
        ]);
        return { configMap: configMap?.metadata?.resourceVersion, deployment: deployment?.metadata?.resourceVersion, events };
      };
      const objects = await read();
      const start = await counters(running);
      const passes = await running.metric(METRICS.reconciles, { outcome: 'success' });

      await waitForPolls(running, 10);
      // Every poll leads to a pass; waiting for all ten makes sure they ran, and ran to the end, before looking.
      await waitFor(
        async () => (await running.metric(METRICS.reconciles, { outcome: 'success' })) >= passes + 10,
        'a reconcile pass after each of the 10 polls',
        15_000,
        logTail(running),
      );
      expect(await read()).toEqual(objects);
      expect(await counters(running)).toEqual(start);
    }),
  );
});
