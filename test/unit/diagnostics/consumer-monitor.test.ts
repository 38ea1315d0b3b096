import type { Deployment } from '../../../src/kube/types.ts';
import { ConsumerMonitor } from '../../../src/diagnostics/consumer-monitor.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import type { RecordedEvent } from '../../../src/sinks/event-recorder.ts';
import { metricValue } from '../metric-value.ts';

function deployment(args: string[]): Deployment {
  return {
    metadata: { name: 'thanos-query', uid: 'u-1' },
    spec: {
      selector: {},
      template: {
        spec: {
          containers: [{ name: 'query', args: ['query', ...args], volumeMounts: [{ name: 'sd', mountPath: '/sd' }] }],
          volumes: [{ name: 'sd', configMap: { name: 'stores' } }],
        },
      },
    },
  };
}

const GOOD = deployment(['--endpoint.sd-config-file=/sd/servicediscovery.yml']);
const WRONG_FLAG = deployment(['--store.sd-files=/sd/servicediscovery.yml']);

function setUp(active = () => true, dryRun = false) {
  const recorded: RecordedEvent[] = [];
  const metrics = createMetrics();
  const monitor = new ConsumerMonitor({
    expectation: {
      configMapName: 'stores',
      configMapKey: 'servicediscovery.yml',
      format: 'endpoint-config',
      restartMode: 'annotation',
      pollIntervalMs: 60_000,
    },
    active,
    events: dryRun ? undefined : { record: async (event) => void recorded.push(event) },
    metrics,
    logger: createSilentLogger(),
  });
  const gauge = (reason: string) => metricValue(metrics.consumerMisconfigured, { reason });
  return { recorded, monitor, gauge };
}

describe('ConsumerMonitor', () => {
  it('records one Warning Event per problem as it appears, not on every informer event', async () => {
    const { recorded, monitor, gauge } = setUp();
    await monitor.check(WRONG_FLAG);
    await monitor.check(WRONG_FLAG);
    expect(recorded).toEqual([
      {
        involved: { kind: 'Deployment', name: 'thanos-query', apiVersion: 'apps/v1', uid: 'u-1' },
        reason: 'StoreListNotConsumable',
        message: expect.stringMatching(/^flag-for-other-format: container query reads \/sd\/servicediscovery.yml with --store.sd-files/),
        type: 'Warning',
      },
    ]);
    expect(await gauge('flag-for-other-format')).toBe(1);
    expect(await gauge('flag-missing')).toBe(0);
  });

  it('clears the gauge once fixed, and reports the problem again when it comes back', async () => {
    const { recorded, monitor, gauge } = setUp();
    await monitor.check(WRONG_FLAG);
    await monitor.check(GOOD);
    expect(await gauge('flag-for-other-format')).toBe(0);
    await monitor.check(WRONG_FLAG);
    expect(recorded).toHaveLength(2);
  });

  it('under DRY_RUN records no Event but still exports the reason', async () => {
    const { recorded, monitor, gauge } = setUp(() => true, true);
    await monitor.check(WRONG_FLAG);
    expect(recorded).toEqual([]);
    expect(await gauge('flag-for-other-format')).toBe(1);
  });

  it('says nothing while a standby', async () => {
    const { recorded, monitor, gauge } = setUp(() => false);
    await monitor.check(WRONG_FLAG);
    expect(recorded).toEqual([]);
    expect(await gauge('flag-for-other-format')).toBe(0);
  });

  it('exports every reason at 0 from the start and has nothing to say about a missing Deployment', async () => {
    const { recorded, monitor, gauge } = setUp();
    expect(await gauge('configmap-not-mounted')).toBe(0);
    await monitor.check(undefined);
    expect(recorded).toEqual([]);
  });
});
