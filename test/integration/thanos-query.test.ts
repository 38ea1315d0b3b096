// The one program that consumes the output: a real Thanos Query reads the ConfigMap through a kubelet-style volume
// and must list every published store, healthy, in both formats and both restart modes. Three real StoreAPI servers
// (`thanos store`) serve on distinct loopback addresses at the published port; the published names resolve only for
// Thanos, through a hosts file of its own. The change -> Thanos latencies are written out (see test/support/results.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import type { OutputFormat, RestartMode } from '../../src/config.ts';
import { HostsFile } from '../peers/hosts-namespace.ts';
import { startThanosStore, type ThanosStore } from '../peers/thanos.ts';
import { aRecords, logTail, scenarioSuite } from '../support/scenario.ts';
import { ThanosPods } from '../support/thanos-pods.ts';
import { readConfigMap, readDeployment, SD_KEY, templateHash, THANOS_CONFIGMAP } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { resultsPath } from '../support/results.ts';

const STORE_PORT = 10901;
/** The refresh interval the README recommends for RESTART_MODE=none (`--store.sd-dns-interval` / `--endpoint.sd-config-reload-interval`). */
const REFRESH_SECONDS = 10;
const HOSTS = [
  'cluster-a-grpc.internal.example.com',
  'cluster-b-grpc.internal.example.com',
  'cluster-c-grpc.internal.example.com',
] as const;
const [A, B, C] = HOSTS;
const GARBAGE = 'endpoints: [unclosed\n';

/** Thanos names a store as the address it was given; compare without the trailing dot of an absolute name. */
function listed(names: readonly string[]): string[] {
  return names.map((name) => name.replace(/\.:/, ':')).sort();
}

function endpoints(hosts: readonly string[]): string[] {
  return hosts.map((host) => `${host}:${STORE_PORT}`).sort();
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : Math.round((sorted[middle - 1]! + sorted[middle]!) / 2);
}

interface Samples {
  route53ToConfigMapMs: number[];
  route53ToThanosMs: number[];
  /** RESTART_MODE=annotation: from the new pod's /-/ready to it listing every store (the window it answers empty). */
  readyToStoresMs: number[];
}
const measured: Record<string, Samples> = {};

describe('Thanos Query as the consumer', () => {
  const suite = scenarioSuite('thanos-query');
  let stores: ThanosStore[] = [];
  let hosts: HostsFile;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsd-thanos-hosts-'));
    hosts = new HostsFile(join(dir, 'hosts'));
    // A /24 of loopback of its own, so the published port is free whatever else runs on this machine.
    const net = `127.${randomInt(16, 250)}.${randomInt(1, 250)}`;
    stores = await Promise.all(HOSTS.map((_, i) => startThanosStore({ ip: `${net}.${i + 1}`, grpcPort: STORE_PORT })));
    for (const [i, host] of HOSTS.entries()) await hosts.set(host, `${net}.${i + 1}`);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.stop()));
    await rm(dir, { recursive: true, force: true });
    if (Object.keys(measured).length === 0) return;
    const summary = Object.fromEntries(
      Object.entries(measured).map(([mode, samples]) => [
        mode,
        {
          route53ToConfigMapMedianMs: median(samples.route53ToConfigMapMs),
          route53ToThanosMedianMs: median(samples.route53ToThanosMs),
          route53ToThanosMaxMs: Math.max(...samples.route53ToThanosMs),
          ...(samples.readyToStoresMs.length > 0 ? { podReadyToStoresMaxMs: Math.max(...samples.readyToStoresMs) } : {}),
          samples,
        },
      ]),
    );
    const note = `thanos-query.test.ts on ${new Date().toISOString()}, 2-core machine; controller POLL_INTERVAL_SECONDS=1, kubelet volume re-read every 0.5 s, Thanos refresh ${REFRESH_SECONDS}s`;
    const results = await resultsPath('thanos-latency.json');
    await writeFile(results, `${JSON.stringify({ note, modes: summary }, null, 2)}\n`);
  });

  async function setUp(prefix: string, format: OutputFormat, restart: RestartMode) {
    const prepared = await suite.prepare({ prefix, records: aRecords([A, B]) });
    const controller = await suite.startController(prepared.namespace, [prepared.zone], { OUTPUT_FORMAT: format, RESTART_MODE: restart });
    if (restart === 'annotation') {
      // The first pass rolls once (a new ConfigMap); the pods under test start after it.
      const rolled = async () => templateHash(await readDeployment(prepared.kubeConfig, prepared.namespace)) !== undefined;
      await waitFor(rolled, 'the first rollout annotation', 30_000, logTail(controller));
    }
    const pods = await ThanosPods.start({
      kubeConfig: prepared.kubeConfig,
      namespace: prepared.namespace,
      hosts,
      format,
      refreshSeconds: REFRESH_SECONDS,
      rollOnHashChange: restart === 'annotation',
    });
    const context = () => `${logTail(controller)()}\nthanos query log, last lines:\n${pods.logTail()}`;
    const showsExactly = async (expected: readonly string[]) => {
      const all = await pods.query.stores();
      const healthy = await pods.healthyStores();
      return all.length === expected.length && JSON.stringify(listed(healthy)) === JSON.stringify(endpoints(expected));
    };
    return { ...prepared, controller, pods, context, showsExactly };
  }

  const modes: [OutputFormat, RestartMode][] = [
    ['endpoint-config', 'annotation'],
    ['endpoint-config', 'none'],
    ['file_sd', 'annotation'],
    ['file_sd', 'none'],
  ];

  it.each(modes)(
    'OUTPUT_FORMAT=%s, RESTART_MODE=%s: every published store is healthy in Thanos and Route53 changes reach it',
    async (format, restart) => {
      const { kubeConfig, namespace, zone, pods, context, showsExactly } = await setUp(`thanos-${format}-${restart}`, format, restart);
      try {
        await waitFor(() => showsExactly([A, B]), 'Thanos to list a and b, healthy, once each', 60_000, context);
        // Connected through the absolute names as published (`host.:port`), not a relative form of them.
        expect(await pods.healthyStores()).toEqual([`${A}.:${STORE_PORT}`, `${B}.:${STORE_PORT}`]);
        const samples: Samples = { route53ToConfigMapMs: [], route53ToThanosMs: [], readyToStoresMs: [] };
        const follow = async (change: () => Promise<unknown>, expected: readonly string[], what: string) => {
          const text = (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY];
          const started = Date.now();
          await change();
          await waitFor(
            async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] !== text,
            `the ConfigMap after ${what}`,
            30_000,
            context,
          );
          samples.route53ToConfigMapMs.push(Date.now() - started);
          await waitFor(() => showsExactly(expected), `Thanos after ${what}`, 90_000, context);
          const shownAt = Date.now();
          samples.route53ToThanosMs.push(shownAt - started);
          const ready = pods.rollouts.at(-1)?.readyAt;
          if (ready !== undefined && ready > started) samples.readyToStoresMs.push(shownAt - ready);
        };
        const c = aRecords([A, B, C])[2]!;
        const a = aRecords([A])[0]!;
        await follow(() => suite.peers.route53.upsertRecords(zone, [c]), [A, B, C], 'adding c');
        await follow(() => suite.peers.route53.deleteRecords(zone, [a]), [B, C], 'removing a');
        await follow(() => suite.peers.route53.upsertRecords(zone, [a]), [A, B, C], 'adding a back');
        await follow(() => suite.peers.route53.deleteRecords(zone, [c]), [A, B], 'removing c');
        measured[`${format}, RESTART_MODE=${restart}`] = samples;
        if (restart === 'annotation') expect(pods.rollouts).toHaveLength(4);
        else expect(pods.rollouts).toHaveLength(0);
      } finally {
        await pods.stop();
      }
    },
    420_000,
  );

  it.each(['endpoint-config', 'file_sd'] as const)(
    'OUTPUT_FORMAT=%s: an unreadable or stale ConfigMap never leaves Thanos with fewer stores',
    async (format) => {
      const { kubeConfig, namespace, zone, controller, pods, context, showsExactly } = await setUp(
        `thanos-unreadable-${format}`,
        format,
        'none',
      );
      try {
        await waitFor(() => showsExactly([A, B]), 'Thanos to list a and b', 60_000, context);
        // Stale: the controller is gone; then unreadable: someone writes text that is neither format.
        await controller.stop();
        const core = kubeConfig.makeApiClient(CoreV1Api);
        const current = await core.readNamespacedConfigMap({ namespace, name: THANOS_CONFIGMAP });
        await core.replaceNamespacedConfigMap({ namespace, name: THANOS_CONFIGMAP, body: { ...current, data: { [SD_KEY]: GARBAGE } } });
        await waitFor(async () => (await pods.volumeText()) === GARBAGE, 'the volume to hold the unreadable text', 15_000, context);
        const until = Date.now() + 2 * REFRESH_SECONDS * 1000 + 2_000;
        let fewest = 2;
        while (Date.now() < until) {
          fewest = Math.min(fewest, (await pods.healthyStores()).length);
          await sleep(250);
        }
        expect(fewest).toBe(2);
        expect(await showsExactly([A, B])).toBe(true);
        const restarted = await suite.startController(namespace, [zone], { OUTPUT_FORMAT: format, RESTART_MODE: 'none' });
        await waitFor(() => showsExactly([A, B]), 'Thanos after the repair', 60_000, logTail(restarted));
      } finally {
        await pods.stop();
      }
    },
    180_000,
  );
});
