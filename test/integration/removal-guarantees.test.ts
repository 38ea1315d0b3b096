import type { KubeConfig } from '@kubernetes/client-node';
import type { ControllerProcess } from '../support/controller-process.ts';
import { expectedFileSd, readConfigMap, SD_KEY } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';

const METRIC = 'thanos_store_discovery_';
const PENDING_ANNOTATION = 'thanos-store-discovery/pending-removals';
// The controller's own removal rules (controllerEnv turns them off for the convergence scenarios), with a mass hold
// long enough that it cannot end inside a test: what is asserted is that it holds.
const HOLDING_RULES = {
  REMOVAL_CONFIRM_POLLS: undefined,
  MAX_REMOVAL_PERCENT: undefined,
  RESTART_MIN_INTERVAL_SECONDS: undefined,
  MASS_REMOVAL_CONFIRM_POLLS: '1000',
};
// Kubernetes' limit for the sum of a object's annotation keys and values.
const ANNOTATIONS_LIMIT = 256 * 1024;

/** `count` store names under `domain`, padded to `length` characters so the scale tests can size the annotation. */
function storeNames(count: number, domain: string, length = 0): string[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `s${String(i).padStart(5, '0')}-grpc.${domain}`;
    return name.length >= length ? name : `${'x'.repeat(length - name.length)}${name}`;
  });
}

/** The endpoint count of each ConfigMap write the controller logged, consecutive repeats (pending-count updates) folded. */
function publishedCounts(controller: ControllerProcess): number[] {
  const counts = controller
    .logs()
    .filter((line) => line.message === 'ConfigMap written')
    .map((line) => line['endpoints'] as number);
  return counts.filter((count, i) => i === 0 || counts[i - 1] !== count);
}

function annotationBytes(annotations: Record<string, string> | undefined): number {
  return Object.entries(annotations ?? {}).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
}

describe('removal guarantees on the real peers', () => {
  const suite = scenarioSuite('removal-guarantees');

  const publishedText = async (kubeConfig: KubeConfig, namespace: string) => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY];
  const publishes = (kubeConfig: KubeConfig, namespace: string, hosts: readonly string[], controller: ControllerProcess, what: string) =>
    waitFor(async () => (await publishedText(kubeConfig, namespace)) === expectedFileSd(hosts), what, 120_000, logTail(controller));

  it.each([100, 10_000])(
    'holds the second part of a loss split over two polls at %i endpoints, judged against the set before the loss',
    (size) =>
      suite.logged(async () => {
        const domain = `ratchet-${size}.example.com`;
        const hosts = storeNames(size, domain);
        const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: `ratchet-${size}`, domain, records: aRecords(hosts) });
        const controller = await suite.startController(namespace, [zone], HOLDING_RULES);
        await publishes(kubeConfig, namespace, hosts, controller, `all ${size} published`);

        // 45% vanish: under the 50% share, removed after the two confirming polls.
        const firstLoss = Math.round(size * 0.45);
        await suite.peers.route53.deleteRecords(zone, aRecords(hosts).slice(0, firstLoss));
        const rest = hosts.slice(firstLoss);
        await publishes(kubeConfig, namespace, rest, controller, 'the first 45% removed');

        // 15% more: together 60% of the set published before the loss began, so this part is held.
        const secondLoss = Math.round(size * 0.15);
        await suite.peers.route53.deleteRecords(zone, aRecords(hosts).slice(firstLoss, firstLoss + secondLoss));
        await waitFor(
          async () =>
            (await controller.metric(`${METRIC}mass_removal_held`)) === 1 ||
            (await publishedText(kubeConfig, namespace)) !== expectedFileSd(rest),
          'the second part held (or, wrongly, removed)',
          120_000,
          logTail(controller),
        );
        await waitForPolls(controller, 3, 120_000);
        // Every write, straddling polls included: none ever published less than the 55% the first loss left.
        expect(publishedCounts(controller).filter((count) => count < size - firstLoss)).toEqual([]);
        expect(await publishedText(kubeConfig, namespace)).toBe(expectedFileSd(rest));
        expect(await controller.metric(`${METRIC}mass_removal_held`)).toBe(1);
      })(),
  );

  it(
    'keeps 6,000 held removals of 10,000 within the annotation limit and publishes an addition during the hold',
    suite.logged(async () => {
      const domain = 'held.example.com';
      // Names of 55 characters: one of the older annotation's entries per held host took 60 bytes.
      const hosts = storeNames(10_000, domain, 55);
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'held', domain, records: aRecords(hosts) });
      const controller = await suite.startController(namespace, [zone], HOLDING_RULES);
      await publishes(kubeConfig, namespace, hosts, controller, 'all 10,000 published');

      const gone = aRecords(hosts).slice(0, 6_000);
      await suite.peers.route53.deleteRecords(zone, gone);
      await waitFor(async () => (await controller.metric(`${METRIC}mass_removal_held`)) === 1, 'the hold', 120_000, logTail(controller));

      const added = `new-grpc.${domain}`;
      await suite.peers.route53.upsertRecords(zone, aRecords([...hosts, added]).slice(-1));
      const withAddition = [...hosts, added].sort();
      await publishes(kubeConfig, namespace, withAddition, controller, 'the addition published while 6,000 removals are held');

      const configMap = await readConfigMap(kubeConfig, namespace);
      expect(configMap?.metadata?.annotations?.[PENDING_ANNOTATION]).toBeDefined();
      expect(annotationBytes(configMap?.metadata?.annotations)).toBeLessThan(ANNOTATIONS_LIMIT / 4);
      expect(await controller.metric(`${METRIC}mass_removal_held`)).toBe(1);
      expect(await controller.metric(METRICS.reconciles, { outcome: 'error' })).toBe(0);
    }),
  );
});
