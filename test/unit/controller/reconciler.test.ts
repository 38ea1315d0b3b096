import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { hashEndpoints, renderEndpointsFile } from '../../../src/controller/endpoints.ts';
import { DesiredHosts, Reconciler, type ObjectCache } from '../../../src/controller/reconciler.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { metricValue } from '../metric-value.ts';
import type { ConfigMapWriteRequest } from '../../../src/sinks/configmap-writer.ts';
import { ENDPOINTS_HASH_ANNOTATION, type RestartRequest } from '../../../src/sinks/deployment-restarter.ts';

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

function deploymentWith(hash: string | undefined): V1Deployment {
  return { metadata: { name: 'thanos-query' }, spec: { selector: {}, template: { metadata: { annotations: hash ? { [ENDPOINTS_HASH_ANNOTATION]: hash } : {} } } } };
}

function configMapWith(text: string, hash?: string): V1ConfigMap {
  return { metadata: { name: 'sd', annotations: hash ? { [ENDPOINTS_HASH_ANNOTATION]: hash } : {} }, data: { [KEY]: text } };
}

function setup(options: { configMap?: V1ConfigMap; deployment?: V1Deployment; hosts?: string[]; dryRun?: boolean; writeFails?: boolean }) {
  const metrics = createMetrics();
  const configMaps = new FakeCache<V1ConfigMap>(options.configMap);
  const deployments = new FakeCache<V1Deployment>(options.deployment);
  const writes: ConfigMapWriteRequest[] = [];
  const restarts: RestartRequest[] = [];
  const alerts: { title: string; error: unknown }[] = [];
  const desired = new DesiredHosts();
  if (options.hosts) desired.set(options.hosts);
  const reconciler = new Reconciler({
    config: { storePort: 10901, outputFormat: 'file_sd', restartMode: 'annotation', configMapKey: KEY, dryRun: options.dryRun ?? false },
    desired,
    configMaps,
    deployments,
    writer: {
      async write(request) {
        if (options.writeFails) throw new Error('the API server is down');
        writes.push(request);
        // The watch delivers our own write to the cache, as a real informer would.
        setTimeout(() => (configMaps.object = configMapWith(request.text, request.annotations[ENDPOINTS_HASH_ANNOTATION])), 5);
        return request.existing ? 'updated' : 'created';
      },
    },
    restarter: {
      async restart(request) {
        if (!deployments.object) return 'missing';
        restarts.push(request);
        setTimeout(() => (deployments.object = deploymentWith(request.hash)), 5);
        return 'patched';
      },
    },
    notifier: { notify: async (alert) => void alerts.push(alert) },
    metrics,
    logger: createSilentLogger(),
    cacheCatchUpMs: 500,
  });
  return { reconciler, metrics, writes, restarts, alerts, configMaps, deployments, desired };
}

describe('Reconciler', () => {
  it('waits, writing nothing, until both informers have synced', async () => {
    const t = setup({ hosts: ['a-grpc.x'] });
    t.configMaps.synced = false;
    expect(await t.reconciler.reconcile()).toBe('waiting');
    expect(t.writes).toHaveLength(0);
    expect(await metricValue(t.metrics.reconciles, { outcome: 'waiting' })).toBe(1);
  });

  it('creates the ConfigMap with the hash annotation, rolls the Deployment once, and is idempotent', async () => {
    const t = setup({ hosts: ['b-grpc.x', 'a-grpc.x'], deployment: deploymentWith(undefined) });
    expect(await t.reconciler.reconcile()).toBe('success');
    expect(t.writes).toEqual([{ existing: undefined, key: KEY, text: renderEndpointsFile(ENDPOINTS, 'file_sd'), annotations: { [ENDPOINTS_HASH_ANNOTATION]: HASH } }]);
    expect(t.restarts).toEqual([expect.objectContaining({ hash: HASH, added: ENDPOINTS, removed: [] })]);
    // The second pass reads the caches our writes reached, and does nothing.
    expect(await t.reconciler.reconcile()).toBe('success');
    expect(t.writes).toHaveLength(1);
    expect(t.restarts).toHaveLength(1);
    expect(await metricValue(t.metrics.endpoints)).toBe(2);
    expect(await metricValue(t.metrics.lastSuccessfulSync)).toBeGreaterThan(0);
  });

  it('skips an empty poll result with a warning metric and an alert, never wiping the list', async () => {
    const t = setup({ hosts: [], configMap: configMapWith(renderEndpointsFile(ENDPOINTS, 'file_sd'), HASH), deployment: deploymentWith(HASH) });
    expect(await t.reconciler.reconcile()).toBe('skipped_empty');
    expect(t.writes).toHaveLength(0);
    expect(t.restarts).toHaveLength(0);
    expect(t.alerts).toEqual([expect.objectContaining({ title: 'Thanos store discovery found no endpoints' })]);
    expect(await metricValue(t.metrics.emptyResults)).toBe(1);
  });

  it('keeps repairing from the last non-empty set while reads come back empty', async () => {
    const t = setup({ hosts: ['a-grpc.x', 'b-grpc.x'], deployment: deploymentWith(undefined) });
    expect(await t.reconciler.reconcile()).toBe('success');
    const syncedAt = await metricValue(t.metrics.lastSuccessfulSync);
    t.desired.set([]);
    t.configMaps.object = undefined;
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(await t.reconciler.reconcile()).toBe('skipped_empty');
    expect(t.writes.at(-1)).toEqual(expect.objectContaining({ existing: undefined, text: renderEndpointsFile(ENDPOINTS, 'file_sd') }));
    expect(t.restarts).toHaveLength(1);
    expect(t.alerts).toEqual([expect.objectContaining({ title: 'Thanos store discovery found no endpoints' })]);
    expect(await metricValue(t.metrics.emptyResults)).toBe(1);
    // The staleness alert must still see the read as stale.
    expect(await metricValue(t.metrics.lastSuccessfulSync)).toBe(syncedAt);
  });

  it('keeps the ConfigMap current while the Deployment is missing', async () => {
    const t = setup({ hosts: ['a-grpc.x', 'b-grpc.x'] });
    expect(await t.reconciler.reconcile()).toBe('success');
    expect(t.writes).toHaveLength(1);
    expect(t.restarts).toHaveLength(0);
    t.deployments.object = deploymentWith(undefined);
    expect(await t.reconciler.reconcile()).toBe('success');
    expect(t.restarts).toEqual([expect.objectContaining({ hash: HASH })]);
  });

  it('writes nothing in dry run', async () => {
    const t = setup({ hosts: ['a-grpc.x'], deployment: deploymentWith(undefined), dryRun: true });
    expect(await t.reconciler.reconcile()).toBe('success');
    expect(t.writes).toHaveLength(0);
    expect(t.restarts).toHaveLength(0);
  });

  it('rejects, alerts and counts an error when a write fails, so the queue retries', async () => {
    const t = setup({ hosts: ['a-grpc.x'], deployment: deploymentWith(undefined), writeFails: true });
    await expect(t.reconciler.reconcile()).rejects.toThrow('the API server is down');
    expect(t.alerts).toEqual([expect.objectContaining({ title: 'Thanos store discovery failed to update Kubernetes' })]);
    expect(t.restarts).toHaveLength(0);
    expect(await metricValue(t.metrics.reconciles, { outcome: 'error' })).toBe(1);
  });
});

describe('DesiredHosts', () => {
  it.each([
    { reads: [], expected: undefined, empty: false },
    { reads: [[]], expected: [], empty: true },
    { reads: [['a'], []], expected: ['a'], empty: true },
    { reads: [['a'], [], ['b']], expected: ['b'], empty: false },
  ])('after reads $reads holds $expected', ({ reads, expected, empty }) => {
    const desired = new DesiredHosts();
    for (const read of reads) desired.set(read);
    expect(desired.get()).toEqual(expected);
    expect(desired.lastReadWasEmpty()).toBe(empty);
  });
});
