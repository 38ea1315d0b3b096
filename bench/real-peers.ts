// The controller's cost as a process, against the real peers (kube-apiserver + etcd, moto): resident memory at rest
// and after a soak, CPU per poll and per RUN_ONCE run, watch requests while quiet, Route53 calls per poll, time to
// ready. Run through `npm run bench` (after `npm run build`); results go to bench/results/real-peers.json.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from '../test/peers/control-plane.ts';
import { startMoto } from '../test/peers/moto.ts';
import { route53Fixture, TEST_AWS_CREDENTIALS, TEST_AWS_REGION, type FixtureRecord } from '../test/peers/route53-fixture.ts';
import { createThanosDeployment } from '../test/support/thanos.ts';
import { startProbe, until, type Probe } from './controller-probe.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE = join(ROOT, 'dist', 'main.js');
// The flags the chart passes for its default 192Mi limit: a heap cap of half the limit, then values.yaml `node.flags`.
export const CHART_NODE_ARGS = ['--max-old-space-size=96', '--max-semi-space-size=1', '--single-threaded'];
const M = 'thanos_store_discovery_';

export interface Variant {
  name: string;
  script: string;
  nodeArgs: string[];
  /** As the image does: a V8 code cache made by one start of the bundle (NODE_COMPILE_CACHE). */
  compileCache?: boolean;
}

export interface SoakResult {
  variant: string;
  endpoints: number;
  polls: number;
  pollIntervalSeconds: number;
  startToReadySeconds: number;
  rssAtRestMb: number;
  rssAfterSoakMb: number;
  peakRssMb: number;
  cpuSecondsPerPoll: number;
  route53CallsPerPoll: number;
  recordSets: number;
}

export interface RunOnceResult {
  variant: string;
  endpoints: number;
  cpuSeconds: number;
  wallSeconds: number;
  peakRssMb: number;
  exitCode: number;
}

export interface QuietResult {
  variant: string;
  endpoints: number;
  minutes: number;
  /** Both informers together, after the first list and watch of each. */
  watchRequests: number;
  watchRequestsPerInformerPerMinute: number;
  relists: number;
  maxStalenessSeconds: number;
  rssMb: number;
}

export interface Peers {
  controlPlane: ControlPlane;
  route53: ReturnType<typeof route53Fixture>;
  motoEndpoint: string;
  dir: string;
  /** A zone holding `endpoints` -grpc A records (plus SOA and NS), made once per size. */
  zone(endpoints: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startPeers(): Promise<Peers> {
  const [controlPlane, moto] = await Promise.all([startControlPlane(), startMoto()]);
  const route53 = route53Fixture(moto.endpoint);
  const dir = await mkdtemp(join(tmpdir(), 'tsd-bench-'));
  const zones = new Map<number, string>();
  return {
    controlPlane,
    route53,
    motoEndpoint: moto.endpoint,
    dir,
    async zone(endpoints) {
      const known = zones.get(endpoints);
      if (known) return known;
      // Short names: 20,000 endpoints of `cluster-N-grpc.<zone>.internal.example.com` would not fit the 1 MiB a
      // ConfigMap may hold.
      const domain = `b${endpoints}.example`;
      const id = await route53.createPrivateZone(domain);
      const records: FixtureRecord[] = Array.from({ length: endpoints }, (_, i) => ({
        name: `s${i}-grpc.${domain}`,
        type: 'A',
        value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      }));
      await route53.upsertRecords(id, records);
      zones.set(endpoints, id);
      return id;
    },
    async stop() {
      route53.destroy();
      await Promise.all([controlPlane.stop(), moto.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Fills a compile cache the way the Dockerfile does: one start of the bundle without configuration (it loads,
 * then exits 2 naming the missing settings), with the variant's flags.
 */
function compileCacheEnv(peers: Peers, variant: Variant): Record<string, string> {
  if (!variant.compileCache) return {};
  const dir = join(peers.dir, `compile-cache-${variant.name.replace(/\W+/g, '-')}`);
  const env = { NODE_COMPILE_CACHE: dir };
  spawnSync(process.execPath, [...variant.nodeArgs.filter((flag) => !flag.startsWith('--max-old-space-size')), variant.script], {
    env,
    stdio: 'ignore',
  });
  return env;
}

function controllerEnv(peers: Peers, namespace: string, zone: string, extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    DEVELOPER_MODE: 'true',
    KUBECONFIG: peers.controlPlane.kubeconfigPath,
    PRIVATE_HOSTED_ZONE_ID: zone,
    THANOS_NAMESPACE: namespace,
    THANOS_DEPLOYMENT_NAME: 'thanos-query',
    THANOS_CONFIGMAP_NAME: 'thanos-store-sd',
    LOG_LEVEL: 'info',
    AWS_ENDPOINT_URL_ROUTE_53: peers.motoEndpoint,
    AWS_REGION: TEST_AWS_REGION,
    AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
    ...extra,
  };
}

async function freshNamespace(peers: Peers, prefix: string): Promise<string> {
  const namespace = await peers.controlPlane.createNamespace(prefix);
  await createThanosDeployment(peers.controlPlane.kubeConfig(), namespace);
  return namespace;
}

let runs = 0;
async function launch(
  peers: Peers,
  variant: Variant,
  namespace: string,
  zone: string,
  extra: Record<string, string>,
): Promise<{ probe: Probe; startedAt: number }> {
  const env = { ...controllerEnv(peers, namespace, zone, extra), ...compileCacheEnv(peers, variant) };
  const startedAt = performance.now();
  const probe = await startProbe({
    node: process.execPath,
    nodeArgs: variant.nodeArgs,
    script: variant.script,
    env,
    dir: peers.dir,
    name: `controller-${++runs}`,
  });
  return { probe, startedAt };
}

/**
 * Waits for a poll to finish and returns the counts right then: the next poll's first call takes far longer than the
 * 20 ms between scrapes, so no call of an unfinished poll is counted even when polls run back to back.
 */
async function atPollBoundary(probe: Probe, timeoutMs: number): Promise<{ polls: number; calls: number }> {
  const start = await probe.pollsAndCalls();
  let now = start;
  await until(probe, async () => (now = await probe.pollsAndCalls()).polls > start.polls, 'a poll to finish', timeoutMs);
  return now;
}

/**
 * Start to ready, memory at rest once converged, then `soakPolls` more polls `pollIntervalSeconds` apart: memory
 * after them, CPU and Route53 calls per poll. ROUTE53_MAX_RPS is raised for moto so that a 20k-endpoint poll
 * (68 pages) does not take 34 s of the soak; the budget itself is tested in test/integration/route53-budget.test.ts.
 */
export async function soak(
  peers: Peers,
  variant: Variant,
  endpoints: number,
  soakPolls: number,
  pollIntervalSeconds: number,
): Promise<SoakResult> {
  const zone = await peers.zone(endpoints);
  const recordSets = (await peers.route53.listRecordSets(zone)).recordSets.length;
  const namespace = await freshNamespace(peers, `soak${endpoints}`);
  const { probe, startedAt } = await launch(peers, variant, namespace, zone, {
    POLL_INTERVAL_SECONDS: String(pollIntervalSeconds),
    ROUTE53_MAX_RPS: '50',
  });
  try {
    await until(probe, () => probe.ready(), 'ready', 120_000);
    const startToReadySeconds = (performance.now() - startedAt) / 1000;
    await until(probe, async () => (await probe.metric(`${M}endpoints`)) === endpoints, 'convergence', 120_000);
    // At rest: converged, between polls, after the start-up garbage is collected as the runtime sees fit.
    await sleep(5_000);
    const rest = probe.memory();
    const before = await atPollBoundary(probe, 60_000);
    const cpuBefore = probe.cpuSeconds();
    await sleep((soakPolls - 1) * pollIntervalSeconds * 1000);
    // Checked seldom until the last poll is near: each scrape costs the controller CPU.
    await until(
      probe,
      async () => (await probe.pollsAndCalls()).polls >= before.polls + soakPolls - 1,
      `${soakPolls} polls`,
      soakPolls * (pollIntervalSeconds + 30) * 1000,
      250,
    );
    const end = await atPollBoundary(probe, 60_000);
    const cpu = probe.cpuSeconds() - cpuBefore;
    const pollsDone = end.polls - before.polls;
    const calls = end.calls - before.calls;
    const after = probe.memory();
    return {
      variant: variant.name,
      endpoints,
      polls: pollsDone,
      pollIntervalSeconds,
      startToReadySeconds: round(startToReadySeconds, 2),
      rssAtRestMb: round(rest.rssMb, 1),
      rssAfterSoakMb: round(after.rssMb, 1),
      peakRssMb: round(after.peakMb, 1),
      cpuSecondsPerPoll: round(cpu / pollsDone, 4),
      route53CallsPerPoll: round(calls / pollsDone, 2),
      recordSets,
    };
  } finally {
    await probe.stop();
  }
}

/** One RUN_ONCE run on an up-to-date namespace (the CronJob's steady state), under /usr/bin/time. */
const RUN_ONCE_SAMPLES = 5;

export async function runOnce(peers: Peers, variant: Variant, endpoints: number): Promise<RunOnceResult> {
  const zone = await peers.zone(endpoints);
  const namespace = await freshNamespace(peers, `once${endpoints}`);
  const env = {
    ...controllerEnv(peers, namespace, zone, { RUN_ONCE: 'true', ROUTE53_MAX_RPS: '50', LISTEN_ADDRESS: '127.0.0.1:0' }),
    ...compileCacheEnv(peers, variant),
  };
  const run = () => {
    const result = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, ...variant.nodeArgs, variant.script], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const line = /TIME (\S+) (\S+) (\S+) (\d+)/.exec(result.stderr);
    if (!line) throw new Error(`no /usr/bin/time output: ${result.stderr.slice(-500)}`);
    return { line, exitCode: result.status ?? -1 };
  };
  // The first run writes the ConfigMap and rolls the Deployment; the measured ones find both up to date. One process
  // start is noisy on a shared machine: the median of five, figure by figure.
  run();
  const runs = Array.from({ length: RUN_ONCE_SAMPLES }, run);
  const median = (field: number) => runs.map(({ line }) => Number(line[field])).sort((a, b) => a - b)[Math.floor(RUN_ONCE_SAMPLES / 2)]!;
  const cpu = runs.map(({ line }) => Number(line[2]) + Number(line[3])).sort((a, b) => a - b)[Math.floor(RUN_ONCE_SAMPLES / 2)]!;
  return {
    variant: variant.name,
    endpoints,
    wallSeconds: median(1),
    cpuSeconds: round(cpu, 3),
    peakRssMb: round(median(4) / 1024, 1),
    exitCode: Math.max(...runs.map(({ exitCode }) => exitCode)),
  };
}

/** Watch requests while nothing changes in Kubernetes, with polls going on (they change nothing either). */
export async function quiet(peers: Peers, variant: Variant, endpoints: number, minutes: number): Promise<QuietResult> {
  const zone = await peers.zone(endpoints);
  const namespace = await freshNamespace(peers, `quiet${endpoints}`);
  const { probe } = await launch(peers, variant, namespace, zone, { POLL_INTERVAL_SECONDS: '15' });
  try {
    await until(probe, async () => (await probe.metric(`${M}endpoints`)) === endpoints, 'convergence', 120_000);
    const count = async (event: string) =>
      (await probe.metric(`${M}informer_events_total`, { resource: 'configmap', event })) +
      (await probe.metric(`${M}informer_events_total`, { resource: 'deployment', event }));
    const watchesBefore = await count('watch');
    const listsBefore = await count('list');
    let maxStalenessSeconds = 0;
    const end = Date.now() + minutes * 60_000;
    while (Date.now() < end) {
      await sleep(5_000);
      for (const resource of ['configmap', 'deployment']) {
        maxStalenessSeconds = Math.max(maxStalenessSeconds, await probe.metric(`${M}informer_staleness_seconds`, { resource }));
      }
    }
    const watchRequests = (await count('watch')) - watchesBefore;
    return {
      variant: variant.name,
      endpoints,
      minutes,
      watchRequests,
      watchRequestsPerInformerPerMinute: round(watchRequests / minutes / 2, 3),
      relists: (await count('list')) - listsBefore,
      maxStalenessSeconds: round(maxStalenessSeconds, 1),
      rssMb: round(probe.memory().rssMb, 1),
    };
  } finally {
    await probe.stop();
  }
}

export function bundleSizeMb(): number {
  return round(statSync(BUNDLE).size / 2 ** 20, 2);
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}
