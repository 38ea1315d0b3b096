import { AppsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { ControllerProcess } from '../support/controller-process.ts';
import {
  expectedFileSd,
  HASH_ANNOTATION,
  readConfigMap,
  readDeployment,
  SD_KEY,
  templateHash,
  THANOS_DEPLOYMENT,
} from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { parsePending } from '../../src/plan/pending-annotation.ts';
import { aRecords, expectedHash, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';

const METRIC = 'thanos_store_discovery_';
// Back to the controller's own defaults for the rules under test (controllerEnv turns them off for the scenarios).
const DEFAULT_RULES = { REMOVAL_CONFIRM_POLLS: undefined, MAX_REMOVAL_PERCENT: undefined, RESTART_MIN_INTERVAL_SECONDS: undefined };

describe('rollout safety rules on the real peers', () => {
  const suite = scenarioSuite('rollout-safety', { webhookReceiver: true });

  const publishedText = async (kubeConfig: KubeConfig, namespace: string) => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY];
  const publishes = (kubeConfig: KubeConfig, namespace: string, hosts: readonly string[], controller: ControllerProcess, what: string) =>
    waitFor(async () => (await publishedText(kubeConfig, namespace)) === expectedFileSd(hosts), what, 30_000, logTail(controller));

  it(
    'removes a record only after it was missing from two polls, and adds at once',
    suite.logged(async () => {
      const hosts = ['a-grpc', 'b-grpc', 'c-grpc'].map((label) => `${label}.hysteresis.example.com`);
      const { kubeConfig, namespace, zone } = await suite.prepare({
        prefix: 'hysteresis',
        domain: 'hysteresis.example.com',
        records: aRecords(hosts),
      });
      const controller = await suite.startController(namespace, [zone], DEFAULT_RULES);
      await publishes(kubeConfig, namespace, hosts, controller, 'the first list');
      await waitForPolls(controller, 1);

      await suite.peers.route53.deleteRecords(zone, aRecords(hosts).slice(2));
      // One poll that misses c: still published, counted as pending, and carried in the annotation.
      const pendingAnnotation = async () =>
        (await readConfigMap(kubeConfig, namespace))?.metadata?.annotations?.['thanos-store-discovery/pending-removals'];
      await waitFor(
        async () => {
          const { missing } = parsePending(await pendingAnnotation(), hosts);
          return missing.size === 1 && missing.get(hosts[2]!) === 1;
        },
        'c pending',
        15_000,
        logTail(controller),
      );
      expect(await controller.metric(`${METRIC}removals_pending`)).toBe(1);
      expect(await publishedText(kubeConfig, namespace)).toBe(expectedFileSd(hosts));
      // The second poll confirms it.
      await publishes(kubeConfig, namespace, hosts.slice(0, 2), controller, 'c removed after the confirming poll');
      expect(await controller.metric(`${METRIC}removals_pending`)).toBe(0);
    }),
  );

  it(
    'holds a removal of more than half the set, alerts, and removes it after the mass confirmation',
    suite.logged(async () => {
      const hosts = ['a-grpc', 'b-grpc', 'c-grpc', 'd-grpc'].map((label) => `${label}.mass.example.com`);
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'mass', domain: 'mass.example.com', records: aRecords(hosts) });
      const controller = await suite.startController(
        namespace,
        [zone],
        { ...DEFAULT_RULES, MASS_REMOVAL_CONFIRM_POLLS: '5' },
        { hookUrl: suite.receiver.url },
      );
      await publishes(kubeConfig, namespace, hosts, controller, 'the first list');
      await waitForPolls(controller, 1);

      await suite.peers.route53.deleteRecords(zone, aRecords(hosts).slice(1));
      await waitFor(
        async () => (await controller.metric(`${METRIC}mass_removal_held`)) === 1,
        'the mass removal held',
        15_000,
        logTail(controller),
      );
      expect(await publishedText(kubeConfig, namespace)).toBe(expectedFileSd(hosts));
      const [alert] = await suite.receiver.waitForBodies(1, 15_000);
      expect(JSON.stringify(alert)).toContain('Thanos store discovery is holding a large removal');
      expect(JSON.stringify(alert)).toContain('3 of 4 endpoints (75%)');

      await publishes(kubeConfig, namespace, hosts.slice(0, 1), controller, 'the removal after 5 missing polls');
      expect(await controller.metric(`${METRIC}mass_removal_held`)).toBe(0);
    }),
  );

  it(
    'rolls the first change at once and defers the changes inside the storm window, keeping the ConfigMap current',
    suite.logged(async () => {
      const host = (label: string) => `${label}-grpc.storm.example.com`;
      const { kubeConfig, namespace, zone } = await suite.prepare({
        prefix: 'storm',
        domain: 'storm.example.com',
        records: aRecords([host('a')]),
      });
      // An hour's window: both later changes fall inside it however slow this machine is. The rollout at the
      // window's end is the reconciler's schedule, tested on a fake clock (test/unit/controller/reconciler.test.ts).
      const windowMs = 3_600_000;
      const controller = await suite.startController(namespace, [zone], { RESTART_MIN_INTERVAL_SECONDS: String(windowMs / 1000) });
      await waitFor(
        async () => templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash([host('a')]),
        'the first rollout',
        30_000,
        logTail(controller),
      );

      // Two changes inside the window: the ConfigMap follows each at once, the Deployment does not.
      await suite.peers.route53.upsertRecords(zone, aRecords([host('a'), host('b')]));
      await publishes(kubeConfig, namespace, [host('a'), host('b')], controller, 'b published');
      await suite.peers.route53.upsertRecords(zone, aRecords([host('a'), host('b'), host('c')]));
      await publishes(kubeConfig, namespace, [host('a'), host('b'), host('c')], controller, 'c published');
      expect(templateHash(await readDeployment(kubeConfig, namespace))).toBe(expectedHash([host('a')]));
      expect(await controller.metric(`${METRIC}restart_deferred`)).toBe(1);
      expect(await controller.metric(METRICS.restarts)).toBe(1);
      // The schedule: each deferral waits out what is left of the window since the first rollout, less each time.
      const waits = controller
        .logs()
        .filter((line) => line.message === 'restart deferred by the minimum interval between restarts')
        .map((line) => Number(line['waitMs']));
      expect(waits.length).toBeGreaterThanOrEqual(2);
      expect(waits.every((waitMs) => waitMs > 0 && waitMs <= windowMs)).toBe(true);
      expect([...waits].sort((x, y) => y - x)).toEqual(waits);
    }),
  );

  it(
    'refuses a list that would not fit in a ConfigMap, keeps the last one published and alerts',
    suite.logged(async () => {
      const domain = 'size.example.com';
      const small = [`small-grpc.${domain}`];
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'size', domain, records: aRecords(small) });
      const controller = await suite.startController(namespace, [zone], {}, { hookUrl: suite.receiver.url, route53: 'proxy' });
      await publishes(kubeConfig, namespace, small, controller, 'the small list');

      // 4,500 names of about 240 characters: over 1 MiB of file_sd text. They go in as 5 change batches (Route53 takes
      // 1,000 changes per batch), and a read between two batches would publish a part that fits: the controller's
      // reads fail until all are in, so its next good read sees the whole set.
      const filler = ['a'.repeat(60), 'b'.repeat(60), 'c'.repeat(60)].join('.');
      const big = Array.from({ length: 4_500 }, (_, i) => `c${String(i).padStart(4, '0')}-${'x'.repeat(40)}-grpc.${filler}.${domain}`);
      suite.peers.proxy.inject('server-error');
      await suite.peers.route53.upsertRecords(zone, aRecords(big));
      suite.peers.proxy.clear();
      await waitFor(
        async () => (await controller.metric(`${METRIC}configmap_oversize_total`)) >= 1,
        'the refusal',
        60_000,
        logTail(controller),
      );
      expect(await controller.metric(`${METRIC}configmap_bytes`)).toBeGreaterThan(1024 * 1024);
      expect(await publishedText(kubeConfig, namespace)).toBe(expectedFileSd(small));
      expect(await controller.metric(METRICS.reconciles, { outcome: 'refused_oversize' })).toBeGreaterThanOrEqual(1);
      // The failed reads alerted too; the refusal's alert is among the posts.
      await waitFor(
        async () => JSON.stringify(suite.receiver.bodies).includes('Thanos store discovery cannot publish the endpoint list'),
        "the refusal's alert",
        15_000,
        logTail(controller),
      );
    }),
    180_000,
  );

  it(
    'stops fighting a GitOps tool that keeps reverting the annotation, and says so',
    suite.logged(async () => {
      const domain = 'gitops.example.com';
      const hosts = [`a-grpc.${domain}`];
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'gitops', domain, records: aRecords(hosts) });
      const controller = await suite.startController(namespace, [zone], { RESTART_REVERT_LIMIT: '2' }, { hookUrl: suite.receiver.url });
      const hash = expectedHash(hosts);
      const rolled = () =>
        waitFor(
          async () => templateHash(await readDeployment(kubeConfig, namespace)) === hash,
          'our annotation in place',
          15_000,
          logTail(controller),
        );
      const apps = kubeConfig.makeApiClient(AppsV1Api);
      // What Argo CD's self-heal does: put the template back as declared, without our annotation.
      const revert = () =>
        apps.patchNamespacedDeployment(
          { namespace, name: THANOS_DEPLOYMENT, body: { spec: { template: { metadata: { annotations: { [HASH_ANNOTATION]: null } } } } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      await rolled();
      await revert();
      await rolled(); // the first revert is patched back
      expect(await controller.metric(`${METRIC}restart_reverts_total`)).toBe(1);
      // A GitOps tool slower than the poll: passes see our patch-back in place before the next revert.
      await waitForPolls(controller, 2);
      await revert();
      await waitFor(
        async () => (await controller.metric(`${METRIC}restart_fight_stopped`)) === 1,
        'the fight stopped',
        15_000,
        logTail(controller),
      );
      await waitForPolls(controller, 2);
      expect(templateHash(await readDeployment(kubeConfig, namespace))).toBeUndefined();
      expect(await controller.metric(METRICS.restarts)).toBe(2);
      const bodies = await suite.receiver.waitForBodies(1, 15_000);
      expect(JSON.stringify(bodies)).toContain('Thanos store discovery stopped restarting Thanos');
    }),
  );
});
