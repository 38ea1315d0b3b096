import { loadConfig } from '../../../src/config.ts';
import { createDiagnostics } from '../../../src/diagnostics/wiring.ts';
import type { ConfigMap, Deployment } from '../../../src/kube/types.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import type { RecordedEvent } from '../../../src/sinks/event-recorder.ts';

const ENV = {
  PRIVATE_HOSTED_ZONE_ID: 'Z0123456789ABC',
  THANOS_NAMESPACE: 'monitoring',
  THANOS_DEPLOYMENT_NAME: 'thanos-query',
  THANOS_CONFIGMAP_NAME: 'stores',
};

// A Deployment that mounts nothing: the consumer check finds a problem and records an Event for it.
const UNMOUNTED: Deployment = {
  metadata: { name: 'thanos-query', uid: 'u-1' },
  spec: { selector: {}, template: { spec: { containers: [{ name: 'query', args: ['query'] }] } } },
};

function followed<T>(object: T | undefined) {
  const listeners: (() => void)[] = [];
  return {
    get: () => object,
    onChange: (listener: () => void) => void listeners.push(listener),
    changed: () => listeners.forEach((l) => l()),
  };
}

function setUp(env: Record<string, string>, leading: boolean | undefined) {
  const recorded: RecordedEvent[] = [];
  const deployments = followed<Deployment>(UNMOUNTED);
  const configMaps = followed<ConfigMap>(undefined);
  const diagnostics = createDiagnostics({
    config: loadConfig({ ...ENV, ...env }),
    api: { listPods: async () => ({ items: [] }) },
    configMaps,
    deployments,
    elector: leading === undefined ? undefined : { isLeader: () => leading },
    events: { record: async (event) => void recorded.push(event) },
    notifier: { notify: () => {} },
    metrics: createMetrics(),
    logger: createSilentLogger(),
  });
  return { recorded, deployments, diagnostics };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('createDiagnostics', () => {
  it.each([
    ['the only replica', {}, undefined, 1],
    ['the leader', {}, true, 1],
    ['a standby: only the leader speaks', {}, false, 0],
    ['a dry run: no Event is written', { DRY_RUN: 'true' }, undefined, 0],
  ])('%s, on a Deployment change: %i Event', async (_who, env, leading, events) => {
    const t = setUp(env, leading);
    t.deployments.changed();
    await settle();
    expect(t.recorded).toHaveLength(events);
  });

  it('judges afresh when this replica starts leading; no delivery check without THANOS_QUERY_URL', async () => {
    const t = setUp({}, true);
    t.diagnostics.onLeading();
    await settle();
    expect(t.recorded).toHaveLength(1);
    expect(t.diagnostics.runnables).toEqual([]);
  });
});
