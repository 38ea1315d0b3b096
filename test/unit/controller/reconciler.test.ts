import type { ConfigMap, Deployment } from '../../../src/kube/types.ts';
import { hashEndpoints, renderEndpointsFile } from '../../../src/format/endpoints-file.ts';
import { DesiredHosts } from '../../../src/controller/desired-hosts.ts';
import { Reconciler, type ObjectCache } from '../../../src/controller/reconciler.ts';
import { PENDING_REMOVALS_ANNOTATION } from '../../../src/plan/pending-annotation.ts';
import type { DesiredState, RemovalPolicy } from '../../../src/plan/desired-set.ts';
import { hostHash } from '../../../src/plan/pending-annotation.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { metricValue } from '../metric-value.ts';
import type { ConfigMapWriteRequest } from '../../../src/sinks/configmap-writer.ts';
import { ENDPOINTS_HASH_ANNOTATION } from '../../../src/plan/published.ts';
import type { RestartRequest } from '../../../src/sinks/deployment-restarter.ts';

const KEY = 'servicediscovery.yml';
const ENDPOINTS = ['a-grpc.x:10901', 'b-grpc.x:10901'];
const HASH = hashEndpoints(ENDPOINTS);

class FakeCache<T> implements ObjectCache<T> {
  object: T | undefined;
  synced = true;
  constructor(object: T | undefined) {
    this.object = object;
  }
  get(): T | undefined {
    return this.object;
  }
  hasSynced(): boolean {
    return this.synced;
  }
}

let versions = 0;

function deploymentWith(hash: string | undefined): Deployment {
  return {
    metadata: { name: 'thanos-query', resourceVersion: String(++versions) },
    spec: { selector: {}, template: { metadata: { annotations: hash ? { [ENDPOINTS_HASH_ANNOTATION]: hash } : {} } } },
  };
}

function configMapWith(text: string, hash?: string): ConfigMap {
  return {
    metadata: { name: 'sd', resourceVersion: String(++versions), annotations: hash ? { [ENDPOINTS_HASH_ANNOTATION]: hash } : {} },
    data: { [KEY]: text },
  };
}

// Removals go through at once here: the removal rules have their own tables (test/unit/plan).
const PASS_THROUGH: RemovalPolicy = { confirmPolls: 1, maxShare: 1, massConfirmPolls: 1 };

interface SetupOptions {
  configMap?: ConfigMap;
  deployment?: Deployment;
  hosts?: string[];
  dryRun?: boolean;
  writeFails?: boolean;
  restartMinIntervalMs?: number;
  restartRevertLimit?: number;
  policy?: RemovalPolicy;
  mayWrite?: () => { ok: true } | { ok: false; reason: string };
  /** The watches never deliver our own writes: the caches keep what they held before them. */
  lagging?: boolean;
  /** What the ConfigMap publishes, as main.ts reads it from the synced cache; nothing when undefined. */
  published?: DesiredState;
}

function setup(options: SetupOptions) {
  const metrics = createMetrics();
  const logger = createSilentLogger();
  const configMaps = new FakeCache<ConfigMap>(options.configMap);
  const deployments = new FakeCache<Deployment>(options.deployment);
  // The Deployment as the API server holds it; the cache follows it unless the watch lags.
  let liveDeployment = options.deployment;
  /** Someone else changes the Deployment (a GitOps revert, a create), and the watch delivers it. */
  const setDeployment = (deployment: Deployment | undefined) => {
    liveDeployment = deployment;
    deployments.object = deployment;
  };
  const writes: ConfigMapWriteRequest[] = [];
  const restarts: RestartRequest[] = [];
  const alerts: { title: string; error: unknown }[] = [];
  const requeues: number[] = [];
  const clock = { now: 1_000_000 };
  const notifier = { notify: (alert: { title: string; error: unknown }) => void alerts.push(alert) };
  const desired = new DesiredHosts({
    policy: options.policy ?? PASS_THROUGH,
    seed: { synced: () => configMaps.synced, published: () => options.published },
    metrics,
    logger,
    notifier,
  });
  const read = (hosts: string[]) => desired.update(hosts);
  if (options.hosts) read(options.hosts);
  const reconciler = new Reconciler({
    config: {
      storePort: 10901,
      outputFormat: 'file_sd',
      restartMode: 'annotation',
      configMapKey: KEY,
      dryRun: options.dryRun ?? false,
      restartMinIntervalMs: options.restartMinIntervalMs ?? 0,
      restartRevertLimit: options.restartRevertLimit ?? 3,
    },
    desired,
    configMaps,
    deployments,
    writer: {
      async write(request) {
        if (options.writeFails) throw new Error('the API server is down');
        writes.push(request);
        const written = configMapWith(request.text, request.annotations[ENDPOINTS_HASH_ANNOTATION]);
        // The watch delivers our own write to the cache before the next pass, as a real informer does unless it lags.
        if (!options.lagging) configMaps.object = written;
        return { outcome: request.existing ? 'updated' : 'created', written };
      },
    },
    restarter: {
      async restart(request, proceed = () => true) {
        if (!liveDeployment) return { kind: 'missing' };
        if (!proceed(liveDeployment)) return { kind: 'held back' };
        if (liveDeployment.spec?.template?.metadata?.annotations?.[ENDPOINTS_HASH_ANNOTATION] === request.hash) {
          return { kind: 'in place', deployment: liveDeployment };
        }
        restarts.push(request);
        liveDeployment = deploymentWith(request.hash);
        if (!options.lagging) deployments.object = liveDeployment;
        return { kind: 'patched', deployment: liveDeployment };
      },
    },
    notifier,
    metrics,
    logger,
    monotonicNow: () => clock.now,
    ...(options.mayWrite ? { mayWrite: options.mayWrite } : {}),
  });
  const reconcile = () => reconciler.reconcile((ms) => void requeues.push(ms));
  return { reconcile, metrics, writes, restarts, alerts, requeues, clock, configMaps, setDeployment, desired, read };
}

describe('Reconciler', () => {
  it('waits, writing nothing, until both informers have synced', async () => {
    const t = setup({ hosts: ['a-grpc.x'] });
    t.configMaps.synced = false;
    expect(await t.reconcile()).toBe('waiting');
    expect(t.writes).toHaveLength(0);
    expect(await metricValue(t.metrics.reconciles, { outcome: 'waiting' })).toBe(1);
  });

  it('creates the ConfigMap with the hash annotation, rolls the Deployment once, and is idempotent', async () => {
    const t = setup({ hosts: ['b-grpc.x', 'a-grpc.x'], deployment: deploymentWith(undefined) });
    expect(await t.reconcile()).toBe('success');
    expect(t.writes).toEqual([
      {
        existing: undefined,
        key: KEY,
        text: renderEndpointsFile(ENDPOINTS, 'file_sd'),
        annotations: { [ENDPOINTS_HASH_ANNOTATION]: HASH },
      },
    ]);
    expect(t.restarts).toEqual([expect.objectContaining({ hash: HASH, added: ENDPOINTS, removed: [] })]);
    // The second pass reads the caches our writes reached, and does nothing.
    expect(await t.reconcile()).toBe('success');
    expect(t.writes).toHaveLength(1);
    expect(t.restarts).toHaveLength(1);
    expect(await metricValue(t.metrics.endpoints)).toBe(2);
    expect(await metricValue(t.metrics.lastSuccessfulSync)).toBeGreaterThan(0);
  });

  it('skips an empty poll result with a warning metric and an alert, never wiping the list', async () => {
    const t = setup({
      hosts: [],
      configMap: configMapWith(renderEndpointsFile(ENDPOINTS, 'file_sd'), HASH),
      deployment: deploymentWith(HASH),
    });
    expect(await t.reconcile()).toBe('skipped_empty');
    expect(t.writes).toHaveLength(0);
    expect(t.restarts).toHaveLength(0);
    expect(t.alerts).toEqual([expect.objectContaining({ title: 'Thanos store discovery found no endpoints' })]);
    expect(await metricValue(t.metrics.emptyResults)).toBe(1);
  });

  it('keeps repairing from the last non-empty set while reads come back empty', async () => {
    const t = setup({ hosts: ['a-grpc.x', 'b-grpc.x'], deployment: deploymentWith(undefined) });
    expect(await t.reconcile()).toBe('success');
    const syncedAt = await metricValue(t.metrics.lastSuccessfulSync);
    t.read([]);
    t.configMaps.object = undefined;

    expect(await t.reconcile()).toBe('skipped_empty');
    expect(t.writes.at(-1)).toEqual(expect.objectContaining({ existing: undefined, text: renderEndpointsFile(ENDPOINTS, 'file_sd') }));
    expect(t.restarts).toHaveLength(1);
    expect(t.alerts).toEqual([expect.objectContaining({ title: 'Thanos store discovery found no endpoints' })]);
    expect(await metricValue(t.metrics.emptyResults)).toBe(1);
    // The staleness alert must still see the read as stale.
    expect(await metricValue(t.metrics.lastSuccessfulSync)).toBe(syncedAt);
  });

  it('keeps the ConfigMap current while the Deployment is missing', async () => {
    const t = setup({ hosts: ['a-grpc.x', 'b-grpc.x'] });
    expect(await t.reconcile()).toBe('success');
    expect(t.writes).toHaveLength(1);
    expect(t.restarts).toHaveLength(0);
    t.setDeployment(deploymentWith(undefined));
    expect(await t.reconcile()).toBe('success');
    expect(t.restarts).toEqual([expect.objectContaining({ hash: HASH })]);
  });

  it('writes nothing in dry run', async () => {
    const t = setup({ hosts: ['a-grpc.x'], deployment: deploymentWith(undefined), dryRun: true });
    expect(await t.reconcile()).toBe('success');
    expect(t.writes).toHaveLength(0);
    expect(t.restarts).toHaveLength(0);
  });

  it('rejects, alerts and counts an error when a write fails, so the queue retries', async () => {
    const t = setup({ hosts: ['a-grpc.x'], deployment: deploymentWith(undefined), writeFails: true });
    await expect(t.reconcile()).rejects.toThrow('the API server is down');
    expect(t.alerts).toEqual([expect.objectContaining({ title: 'Thanos store discovery failed to update Kubernetes' })]);
    expect(t.restarts).toHaveLength(0);
    expect(await metricValue(t.metrics.reconciles, { outcome: 'error' })).toBe(1);
  });
});

describe('Reconciler safety rules', () => {
  const ONE = ['a-grpc.x'];
  const hashOf = (hosts: string[]) => hashEndpoints(hosts.map((host) => `${host}:10901`));

  it('rolls the first change at once and coalesces later ones into one rollout at the end of the window', async () => {
    const t = setup({ hosts: ONE, deployment: deploymentWith(undefined), restartMinIntervalMs: 300_000 });
    expect(await t.reconcile()).toBe('success');
    expect(t.restarts).toHaveLength(1);

    t.clock.now += 60_000;
    t.read(['a-grpc.x', 'b-grpc.x']);
    expect(await t.reconcile()).toBe('success');
    t.clock.now += 60_000;
    t.read(['a-grpc.x', 'b-grpc.x', 'c-grpc.x']);
    expect(await t.reconcile()).toBe('success');
    // The ConfigMap is kept current at once; the rollout waits for the window's end.
    expect(t.writes).toHaveLength(3);
    expect(t.restarts).toHaveLength(1);
    expect(t.requeues).toEqual([240_000, 180_000]);
    expect(await metricValue(t.metrics.restartDeferred)).toBe(1);

    t.clock.now += 180_000;
    expect(await t.reconcile()).toBe('success');
    expect(t.restarts.map((restart) => restart.hash)).toEqual([hashOf(ONE), hashOf(['a-grpc.x', 'b-grpc.x', 'c-grpc.x'])]);
    expect(await metricValue(t.metrics.restartDeferred)).toBe(0);
  });

  it('stops patching after the annotation was reverted the limit of times within an hour, and resumes once it stays', async () => {
    const t = setup({ hosts: ONE, deployment: deploymentWith(undefined), restartRevertLimit: 2 });
    const revert = async () => {
      t.setDeployment(deploymentWith(undefined));
      t.clock.now += 60_000;
      return t.reconcile();
    };
    await t.reconcile();
    await revert();
    expect(t.restarts).toHaveLength(2);
    expect(await metricValue(t.metrics.restartReverts)).toBe(1);
    await revert();
    // The second revert reaches the limit: no third patch, an alert and the metric instead.
    expect(t.restarts).toHaveLength(2);
    expect(await metricValue(t.metrics.restartReverts)).toBe(2);
    expect(await metricValue(t.metrics.restartFightStopped)).toBe(1);
    expect(t.alerts).toEqual([expect.objectContaining({ title: 'Thanos store discovery stopped restarting Thanos' })]);
    await revert();
    expect(t.restarts).toHaveLength(2);
    expect(t.alerts).toHaveLength(1);

    // Someone puts our hash back (the GitOps tool now ignores it): the stop lifts.
    t.setDeployment(deploymentWith(hashOf(ONE)));
    await t.reconcile();
    expect(await metricValue(t.metrics.restartFightStopped)).toBe(0);
    t.read(['a-grpc.x', 'b-grpc.x']);
    await t.reconcile();
    expect(t.restarts).toHaveLength(3);
  });

  it('reads its own writes from their answers while the watches lag: no second write, no revert counted', async () => {
    const t = setup({ hosts: ONE, configMap: configMapWith('- targets: []\n'), deployment: deploymentWith(undefined), lagging: true });
    for (let pass = 0; pass < 4; pass++) {
      t.read(ONE);
      t.clock.now += 60_000;
      expect(await t.reconcile()).toBe('success');
    }
    expect(t.writes).toHaveLength(1);
    expect(t.restarts).toHaveLength(1);
    expect(await metricValue(t.metrics.restartReverts)).toBe(0);
    expect(await metricValue(t.metrics.restartFightStopped)).toBe(0);
    expect(t.alerts).toEqual([]);
  });

  it('refuses a list that would not fit in a ConfigMap, keeps the last one and alerts', async () => {
    const many = Array.from({ length: 25_000 }, (_, i) => `cluster-${String(i).padStart(5, '0')}-grpc.internal.example.com`);
    const t = setup({ hosts: ONE, deployment: deploymentWith(undefined) });
    await t.reconcile();
    t.read(many);
    expect(await t.reconcile()).toBe('refused_oversize');
    expect(t.writes).toHaveLength(1);
    expect(t.restarts).toHaveLength(1);
    expect(await metricValue(t.metrics.configMapOversize)).toBe(1);
    expect(await metricValue(t.metrics.configMapBytes)).toBeGreaterThan(1024 * 1024);
    expect(t.alerts).toEqual([expect.objectContaining({ title: 'Thanos store discovery cannot publish the endpoint list' })]);
  });

  it('writes nothing once the fence says no, without an alert or a retry', async () => {
    let allowed = true;
    const t = setup({
      hosts: ONE,
      deployment: deploymentWith(undefined),
      mayWrite: () => (allowed ? { ok: true } : { ok: false, reason: 'not the leader' }),
    });
    expect(await t.reconcile()).toBe('success');
    allowed = false;
    t.read(['a-grpc.x', 'b-grpc.x']);
    expect(await t.reconcile()).toBe('fenced');
    expect(t.writes).toHaveLength(1);
    expect(t.restarts).toHaveLength(1);
    expect(t.alerts).toHaveLength(0);
    expect(await metricValue(t.metrics.reconciles, { outcome: 'fenced' })).toBe(1);
  });

  it('seeds a read that came before the ConfigMap cache synced from the synced cache, never from the empty one', async () => {
    const published = ['a-grpc.x', 'b-grpc.x', 'c-grpc.x', 'd-grpc.x'];
    const text = renderEndpointsFile(
      published.map((host) => `${host}:10901`),
      'file_sd',
    );
    const hash = hashEndpoints(published.map((host) => `${host}:10901`));
    const t = setup({
      deployment: deploymentWith(hash),
      published: { hosts: published, missing: new Map() },
      policy: { confirmPolls: 2, maxShare: 0.5, massConfirmPolls: 4 },
    });
    // The API server answers nothing yet: three of four are missing from a read taken meanwhile.
    t.configMaps.synced = false;
    t.read(['a-grpc.x']);
    expect(await t.reconcile()).toBe('waiting');
    expect(t.desired.get()).toBeUndefined();

    t.configMaps.object = configMapWith(text, hash);
    t.configMaps.synced = true;
    expect(await t.reconcile()).toBe('success');
    // The read counts as one missing poll against the four published: nothing removed, Thanos not rolled.
    expect(t.desired.get()).toEqual(published);
    expect(t.writes.map((write) => write.text)).toEqual([text]);
    expect(t.restarts).toHaveLength(0);
    expect(await metricValue(t.metrics.removalsPending)).toBe(3);
  });

  it("refuses a write whose annotations would pass Kubernetes' 256 KiB total, keeps the list and alerts", async () => {
    const t = setup({ hosts: ONE, deployment: deploymentWith(undefined) });
    t.configMaps.object = {
      metadata: { name: 'sd', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(262_100) } },
      data: { [KEY]: '- targets: []\n' },
    };
    expect(await t.reconcile()).toBe('refused_oversize');
    expect(t.writes).toHaveLength(0);
    expect(await metricValue(t.metrics.configMapOversize)).toBe(1);
    expect(t.alerts).toEqual([expect.objectContaining({ title: 'Thanos store discovery cannot publish the endpoint list' })]);
  });

  it('keeps the annotation of 6,000 held removals of 10,000 small and writes an addition during the hold', async () => {
    const hosts = Array.from({ length: 10_000 }, (_, i) => `${'x'.repeat(30)}-${String(i).padStart(5, '0')}-grpc.held.example.com`);
    const t = setup({ hosts, deployment: deploymentWith(undefined), policy: { confirmPolls: 2, maxShare: 0.5, massConfirmPolls: 10 } });
    await t.reconcile();
    const left = hosts.slice(6_000);
    t.read(left);
    t.read(left);
    expect(await t.reconcile()).toBe('success');
    expect(await metricValue(t.metrics.massRemovalHeld)).toBe(1);
    const held = t.writes.at(-1)!.annotations[PENDING_REMOVALS_ANNOTATION]!;
    expect(Buffer.byteLength(held)).toBeLessThan(64 * 1024);

    t.read([...left, 'new-grpc.held.example.com']);
    expect(await t.reconcile()).toBe('success');
    expect(t.writes.at(-1)?.text).toContain('new-grpc.held.example.com.:10901');
    expect(
      t.writes
        .at(-1)
        ?.text.split('\n')
        .filter((line) => line.startsWith('  - ')),
    ).toHaveLength(10_001);
  });

  it('carries the removals being confirmed in the ConfigMap annotation', async () => {
    const t = setup({
      hosts: ['a-grpc.x', 'b-grpc.x', 'c-grpc.x'],
      deployment: deploymentWith(undefined),
      policy: { confirmPolls: 2, maxShare: 0.5, massConfirmPolls: 4 },
    });
    await t.reconcile();
    t.read(['a-grpc.x', 'b-grpc.x']);
    await t.reconcile();
    expect(t.writes.at(-1)?.annotations[PENDING_REMOVALS_ANNOTATION]).toBe(`{"v":2,"missing":{"1":"${hostHash('c-grpc.x')}"}}`);
    expect(t.writes.at(-1)?.text).toBe(renderEndpointsFile(['a-grpc.x:10901', 'b-grpc.x:10901', 'c-grpc.x:10901'], 'file_sd'));
    expect(t.restarts).toHaveLength(1);
    expect(await metricValue(t.metrics.removalsPending)).toBe(1);
  });
});

describe('DesiredHosts', () => {
  const policy: RemovalPolicy = { confirmPolls: 2, maxShare: 0.5, massConfirmPolls: 3 };
  function holder() {
    const metrics = createMetrics();
    const alerts: { title: string }[] = [];
    const seed = { synced: true, published: undefined as DesiredState | undefined };
    const desired = new DesiredHosts({
      policy,
      seed: { synced: () => seed.synced, published: () => seed.published },
      metrics,
      logger: createSilentLogger(),
      notifier: { notify: (alert) => void alerts.push(alert) },
    });
    return { desired, metrics, alerts, seed };
  }

  it.each([
    { reads: [], expected: undefined, empty: false },
    { reads: [[]], expected: [], empty: true },
    { reads: [['a'], []], expected: ['a'], empty: true },
    { reads: [['a'], [], ['b']], expected: ['a', 'b'], empty: false },
  ])('after reads $reads holds $expected', ({ reads, expected, empty }) => {
    const { desired } = holder();
    for (const read of reads) desired.update(read);
    expect(desired.get()).toEqual(expected);
    expect(desired.lastReadWasEmpty()).toBe(empty);
  });

  it('counts each empty poll once and alerts on it', async () => {
    const { desired, metrics, alerts } = holder();
    desired.update(['a']);
    desired.update([]);
    desired.update([]);
    expect(await metricValue(metrics.emptyResults)).toBe(2);
    expect(alerts.map((alert) => alert.title)).toEqual([
      'Thanos store discovery found no endpoints',
      'Thanos store discovery found no endpoints',
    ]);
  });

  it('starts from the published state, holds a large removal with an alert and the metric', async () => {
    const { desired, metrics, alerts, seed } = holder();
    seed.published = { hosts: ['a', 'b', 'c', 'd'], missing: new Map([['b', 1]]) };
    desired.update(['a']);
    // b was already missing once (the annotation), so this read confirms it: 1 of 4 may go. c and d wait.
    expect(desired.get()).toEqual(['a', 'c', 'd']);
    expect(await metricValue(metrics.massRemovalHeld)).toBe(0);
    desired.update(['a']);
    // c and d confirmed: 2 of 3, more than half, held until missing from 3 polls.
    expect(desired.get()).toEqual(['a', 'c', 'd']);
    expect(await metricValue(metrics.massRemovalHeld)).toBe(1);
    expect(alerts.map((alert) => alert.title)).toEqual(['Thanos store discovery is holding a large removal']);
    desired.update(['a']);
    expect(desired.get()).toEqual(['a']);
    expect(await metricValue(metrics.massRemovalHeld)).toBe(0);
    expect(await metricValue(metrics.removalsPending)).toBe(0);
  });
});
