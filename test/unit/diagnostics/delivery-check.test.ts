import type { Deployment, Pod } from '../../../src/kube/types.ts';
import type { SourceRead } from '../../../src/diagnostics/delivery-compare.ts';
import { DELIVERY_ALERT_TITLE, DeliveryCheck } from '../../../src/diagnostics/delivery-check.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import type { RecordedEvent } from '../../../src/sinks/event-recorder.ts';
import type { Alert } from '../../../src/sinks/mattermost-notifier.ts';
import { metricValue } from '../metric-value.ts';

const A = 'a-grpc.example.com:10901';
const B = 'b-grpc.example.com:10901';
const DEPLOYMENT: Deployment = {
  metadata: { name: 'thanos-query', uid: 'u-1' },
  spec: { selector: { matchLabels: { app: 'q' } }, template: {} },
};
const RUNNING: Pod[] = [{ metadata: { name: 'q-1' }, status: { phase: 'Running', podIP: '10.0.0.1' } }];

function setUp(options: { pods?: () => Promise<Pod[]>; deployment?: Deployment; rolloutPending?: () => boolean } = {}) {
  let now = 1_000_000;
  const answers = new Map<string, Record<string, string | null>>();
  const requested: string[] = [];
  const recorded: RecordedEvent[] = [];
  const alerts: Alert[] = [];
  const metrics = createMetrics();
  const check = new DeliveryCheck({
    serviceUrl: 'http://thanos-query:9090',
    intervalMs: 30_000,
    alertAfterMs: 60_000,
    published: () => [A, B],
    deployment: () => options.deployment ?? DEPLOYMENT,
    listPods: options.pods ?? (async () => RUNNING),
    active: () => true,
    ...(options.rolloutPending ? { rolloutPending: options.rolloutPending } : {}),
    events: { record: async (event) => void recorded.push(event) },
    notifier: { notify: (alert) => void alerts.push(alert) },
    metrics,
    logger: createSilentLogger(),
    now: () => now,
    read: async (source, url): Promise<SourceRead> => {
      requested.push(url);
      const stores = answers.get(source);
      return stores === undefined
        ? { source, ok: false, error: 'refused' }
        : { source, ok: true, stores: Object.entries(stores).map(([name, lastError]) => ({ name, lastError })) };
    },
  });
  return {
    check,
    answers,
    requested,
    recorded,
    alerts,
    metrics,
    advance: (ms: number) => void (now += ms),
    state: (state: string) => metricValue(metrics.deliveryEndpoints, { state }),
  };
}

describe('DeliveryCheck', () => {
  it('reads each running pod by IP and exports the states and the time of the last match', async () => {
    const { check, answers, requested, metrics, state } = setUp();
    answers.set('pod/q-1', { [A]: null, [B]: null });
    await check.check();
    expect(requested).toEqual(['http://10.0.0.1:9090/']);
    expect(await state('healthy')).toBe(2);
    expect(await metricValue(metrics.deliveryLastMatch)).toBe(1_000);
    expect(await metricValue(metrics.deliveryReads, { outcome: 'success' })).toBe(1);
  });

  it('falls back to the Service when the pods cannot be listed', async () => {
    const { check, requested } = setUp({ pods: async () => Promise.reject(new Error('forbidden')) });
    await check.check();
    expect(requested).toEqual(['http://thanos-query:9090']);
  });

  it('an Event per endpoint once its problem outlasts the threshold, and an alert on each check while it lasts', async () => {
    const { check, answers, recorded, alerts, metrics, advance, state } = setUp();
    answers.set('pod/q-1', { [A]: null, [B]: 'rpc error: connection refused' });
    await check.check();
    expect(await state('unhealthy')).toBe(1);
    expect(recorded).toEqual([]);
    expect(alerts).toEqual([]);
    advance(60_000);
    await check.check();
    await check.check();
    expect(recorded).toEqual([
      {
        involved: { kind: 'Deployment', name: 'thanos-query', apiVersion: 'apps/v1', uid: 'u-1' },
        reason: 'StoreNotUsedByThanos',
        message: `${B} unhealthy in Thanos Query (pod/q-1: rpc error: connection refused)`,
        type: 'Warning',
      },
    ]);
    // The notifier dedupes repeats of the same text; the check hands it every one.
    expect(alerts.map((alert) => [alert.title, (alert.error as Error).message])).toEqual([
      [DELIVERY_ALERT_TITLE, `${B} unhealthy in Thanos Query (pod/q-1: rpc error: connection refused)`],
      [DELIVERY_ALERT_TITLE, `${B} unhealthy in Thanos Query (pod/q-1: rpc error: connection refused)`],
    ]);
    expect(await metricValue(metrics.deliveryLastMatch)).toBe(0);
    // Healthy again, then down again: a new onset, a new Event once it is overdue again.
    answers.set('pod/q-1', { [A]: null, [B]: null });
    await check.check();
    answers.set('pod/q-1', { [A]: null, [B]: 'down' });
    await check.check();
    expect(recorded).toHaveLength(1);
    advance(60_000);
    await check.check();
    expect(recorded).toHaveLength(2);
  });

  it('reports an endpoint waiting for a deferred rollout as awaiting_rollout, with no Event or alert, until the rollout', async () => {
    let pending = true;
    const { check, answers, recorded, alerts, advance, state } = setUp({ rolloutPending: () => pending });
    // B was just published; the storm guard holds the rollout that would give it to the pods.
    answers.set('pod/q-1', { [A]: null });
    await check.check();
    advance(240_000);
    await check.check();
    expect(await state('awaiting_rollout')).toBe(1);
    expect(await state('unseen')).toBe(0);
    expect(recorded).toEqual([]);
    expect(alerts).toEqual([]);

    // Rolled out, and still not seen: now it is a problem, timed from here.
    pending = false;
    await check.check();
    expect(await state('unseen')).toBe(1);
    expect(await state('awaiting_rollout')).toBe(0);
    expect(alerts).toEqual([]);
    advance(60_000);
    await check.check();
    expect(recorded.map((event) => event.reason)).toEqual(['StoreNotUsedByThanos']);
  });

  it('does nothing on a standby or before anything is published', async () => {
    const metrics = createMetrics();
    let reads = 0;
    const read = async (source: string): Promise<SourceRead> => {
      reads += 1;
      return { source, ok: false, error: 'unexpected' };
    };
    const base = {
      serviceUrl: 'http://q:9090',
      intervalMs: 1_000,
      alertAfterMs: 0,
      deployment: () => DEPLOYMENT,
      listPods: async () => RUNNING,
      events: undefined,
      notifier: { notify: async () => {} },
      metrics,
      logger: createSilentLogger(),
      read,
    };
    await new DeliveryCheck({ ...base, published: () => [A], active: () => false }).check();
    await new DeliveryCheck({ ...base, published: () => undefined, active: () => true }).check();
    expect(reads).toBe(0);
  });
});
