import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { startTcpFaultProxy, type TcpFaultMode } from '../peers/tcp-fault-proxy.ts';
import type { ControllerProcess } from '../support/controller-process.ts';
import { expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, expectedHash, logTail, METRICS, scenarioSuite, successfulPolls, waitForPolls } from '../support/scenario.ts';

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
// 10,000 records are 34 pages of 300: read as fast as moto answers rather than at the 2 requests/s default.
const FAST_READS = { ROUTE53_MAX_RPS: '50' };
// A scale test reads 10,000 records a poll for a dozen polls on a shared 2-core machine.
const SCALE_TIMEOUT_MS = 900_000;
const SCALE_WAIT_MS = 300_000;
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

/** The entry lines of a published file, sorted. */
function entryLines(text: string | undefined): string[] {
  return (text ?? '')
    .split('\n')
    .filter((line) => line.startsWith('  - '))
    .sort();
}

function annotationBytes(annotations: Record<string, string> | undefined): number {
  return Object.entries(annotations ?? {}).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
}

describe('removal guarantees on the real peers', () => {
  const suite = scenarioSuite('removal-guarantees');

  const publishedText = async (kubeConfig: KubeConfig, namespace: string) => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY];
  const publishes = (kubeConfig: KubeConfig, namespace: string, hosts: readonly string[], controller: ControllerProcess, what: string) =>
    waitFor(async () => (await publishedText(kubeConfig, namespace)) === expectedFileSd(hosts), what, SCALE_WAIT_MS, logTail(controller));

  it.each<[string, TcpFaultMode]>([
    ['resets every connection', 'reset'],
    ['answers nothing', 'silent'],
  ])('keeps the published list when the API server %s at start-up, so the first pass cannot seed from an empty cache', (_title, fault) =>
    suite.logged(async () => {
      const domain = `hiccup-${fault}.example.com`;
      const hosts = storeNames(10, domain);
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: `hiccup-${fault}`, domain, records: aRecords(hosts) });
      const first = await suite.startController(namespace, [zone], HOLDING_RULES);
      await waitFor(
        async () => templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(hosts),
        'the first list rolled out',
        30_000,
        logTail(first),
      );
      await first.stop();
      await suite.peers.route53.deleteRecords(zone, aRecords(hosts).slice(4));

      // The restarted controller reaches the API server only through the proxy, which fails from the start.
      const { controlPlane } = suite.peers;
      const proxy = await startTcpFaultProxy({ host: '127.0.0.1', port: Number(new URL(controlPlane.server).port) }, fault);
      const dir = await mkdtemp(join(tmpdir(), 'tsd-hiccup-'));
      try {
        const kubeconfigPath = join(dir, 'kubeconfig.yaml');
        await writeFile(kubeconfigPath, (await readFile(controlPlane.kubeconfigPath, 'utf8')).replaceAll(controlPlane.server, proxy.url));
        const controller = await suite.startController(namespace, [zone], { ...HOLDING_RULES, KUBECONFIG: kubeconfigPath });
        // Route53 answers all along: polls land while the ConfigMap cache cannot list. (The metrics server is not up
        // at once, so this waits through refused connections.)
        await waitFor(async () => (await successfulPolls(controller)) >= 2, 'two polls', 60_000, logTail(controller));
        expect(proxy.refused).toBeGreaterThan(0);
        proxy.setMode('forward');

        await controller.waitForLog((line) => line.message === 'informer synced' && line['resource'] === 'configmap', 'the sync', 60_000);
        await waitFor(
          async () => (await controller.metric(METRICS.reconciles, { outcome: 'success' })) >= 1,
          'a pass on the synced cache',
          30_000,
          logTail(controller),
        );
        expect(await publishedText(kubeConfig, namespace)).toBe(expectedFileSd(hosts));
        // Six of ten missing is a mass removal: held, not taken at once, and Thanos is not rolled.
        await waitFor(async () => (await controller.metric(`${METRIC}mass_removal_held`)) === 1, 'the hold', 30_000, logTail(controller));
        expect(await publishedText(kubeConfig, namespace)).toBe(expectedFileSd(hosts));
        expect(templateHash(await readDeployment(kubeConfig, namespace))).toBe(expectedHash(hosts));
        expect(publishedCounts(controller).every((count) => count === hosts.length)).toBe(true);
      } finally {
        await proxy.stop();
        await rm(dir, { recursive: true, force: true });
      }
    })(),
  );

  it.each([100, 10_000])(
    'holds the second part of a loss split over two polls at %i endpoints, judged against the set before the loss',
    (size) =>
      suite.logged(async () => {
        const domain = `ratchet-${size}.example.com`;
        const hosts = storeNames(size, domain);
        const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: `ratchet-${size}`, domain, records: aRecords(hosts) });
        const controller = await suite.startController(namespace, [zone], { ...HOLDING_RULES, ...FAST_READS });
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
          SCALE_WAIT_MS,
          logTail(controller),
        );
        await waitForPolls(controller, 3, SCALE_WAIT_MS);
        // Every write, straddling polls included: none ever published less than half the set before the loss began.
        // Moto deletes at most 1,000 records a call, so at 10,000 a poll may see only the start of the second loss;
        // that part may then go (the total still under half), the rest is held.
        const counts = publishedCounts(controller);
        const lowest = Math.min(...counts);
        expect({ counts, lowest, underHalf: lowest < size / 2 }).toMatchObject({ underHalf: false });
        expect(counts.at(-1)).toBeLessThanOrEqual(size - firstLoss);
        expect(await controller.metric(`${METRIC}mass_removal_held`)).toBe(1);
        if (size <= 1_000) expect(await publishedText(kubeConfig, namespace)).toBe(expectedFileSd(rest));
      })(),
    SCALE_TIMEOUT_MS,
  );

  it(
    'keeps 6,000 held removals of 10,000 within the annotation limit and publishes an addition during the hold',
    suite.logged(async () => {
      const domain = 'held.example.com';
      // Names of 55 characters: one of the older annotation's entries per held host took 60 bytes.
      const hosts = storeNames(10_000, domain, 55);
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'held', domain, records: aRecords(hosts) });
      const first = await suite.startController(namespace, [zone], { ...HOLDING_RULES, ...FAST_READS });
      await publishes(kubeConfig, namespace, hosts, first, 'all 10,000 published');
      // Deleted while no controller runs, so that no poll sees only part of the 6,000 (moto takes 1,000 a batch).
      await first.stop();
      await suite.peers.route53.deleteRecords(zone, aRecords(hosts).slice(0, 6_000));
      const controller = await suite.startController(namespace, [zone], { ...HOLDING_RULES, ...FAST_READS });
      await waitFor(
        async () => (await controller.metric(`${METRIC}mass_removal_held`)) === 1,
        'the hold',
        SCALE_WAIT_MS,
        logTail(controller),
      );

      const heldLines = entryLines(await publishedText(kubeConfig, namespace));
      expect(heldLines).toEqual(entryLines(expectedFileSd(hosts)));
      const added = `new-grpc.${domain}`;
      await suite.peers.route53.upsertRecords(zone, aRecords([...hosts, added]).slice(-1));
      const withAddition = [...heldLines, ...entryLines(expectedFileSd([added]))].sort();
      // The API server names its annotation limit when it refuses a write (422).
      const refusedForSize = () => controller.logs().some((line) => JSON.stringify(line).includes(String(ANNOTATIONS_LIMIT)));
      await waitFor(
        async () => refusedForSize() || entryLines(await publishedText(kubeConfig, namespace)).length > heldLines.length,
        'the addition published while the removals are held (or a write refused for its annotations)',
        SCALE_WAIT_MS,
        logTail(controller),
      );
      expect(refusedForSize()).toBe(false);
      expect(entryLines(await publishedText(kubeConfig, namespace))).toEqual(withAddition);

      const configMap = await readConfigMap(kubeConfig, namespace);
      expect(configMap?.metadata?.annotations?.[PENDING_ANNOTATION]).toBeDefined();
      expect(annotationBytes(configMap?.metadata?.annotations)).toBeLessThan(ANNOTATIONS_LIMIT / 4);
      expect(await controller.metric(`${METRIC}mass_removal_held`)).toBe(1);
    }),
    SCALE_TIMEOUT_MS,
  );
});
