import type { KubeApi } from '../../../src/kube/api.ts';
import type { CoreEvent } from '../../../src/kube/types.ts';
import { createEventRecorder, type RecordedEvent } from '../../../src/sinks/event-recorder.ts';
import { apiError, captureLogger } from './fakes.ts';

const NAMESPACE = 'monitoring';

class FakeEventsApi implements Pick<KubeApi, 'createEvent'> {
  readonly created: Array<{ namespace: string; body: CoreEvent }> = [];
  failure: Error | undefined;

  async createEvent(namespace: string, body: CoreEvent): Promise<CoreEvent> {
    if (this.failure !== undefined) throw this.failure;
    this.created.push({ namespace, body });
    return body;
  }
}

const EVENT: RecordedEvent = {
  involved: { kind: 'Deployment', name: 'thanos-query', uid: 'deploy-uid', apiVersion: 'apps/v1' },
  reason: 'StoreEndpointsChanged',
  message: '+1 -0: added a:10901',
  type: 'Normal',
};

describe('createEventRecorder', () => {
  it('creates a core/v1 Event on the involved object in the controller namespace', async () => {
    const core = new FakeEventsApi();
    const recorder = createEventRecorder({ api: core, namespace: NAMESPACE, logger: captureLogger().logger });

    await recorder.record(EVENT);

    expect(core.created).toHaveLength(1);
    const { namespace, body } = core.created[0]!;
    expect(namespace).toBe(NAMESPACE);
    expect(body).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: NAMESPACE },
      involvedObject: { kind: 'Deployment', name: 'thanos-query', namespace: NAMESPACE, uid: 'deploy-uid', apiVersion: 'apps/v1' },
      reason: 'StoreEndpointsChanged',
      message: '+1 -0: added a:10901',
      type: 'Normal',
      count: 1,
      source: { component: 'thanos-store-discovery' },
      reportingComponent: 'thanos-store-discovery',
    });
    expect(body.metadata.name).toMatch(/^thanos-query\.[0-9a-f]{16}$/);
    expect(new Date(body.firstTimestamp).toISOString()).toBe(body.firstTimestamp);
    expect(body.lastTimestamp).toEqual(body.firstTimestamp);
  });

  it('gives every Event its own name and leaves out a uid it was not given', async () => {
    const core = new FakeEventsApi();
    const recorder = createEventRecorder({ api: core, namespace: NAMESPACE, logger: captureLogger().logger });

    await recorder.record(EVENT);
    await recorder.record({ ...EVENT, involved: { kind: 'ConfigMap', name: 'thanos-query', apiVersion: 'v1' } });

    const [first, second] = core.created.map((param) => param.body);
    expect(first?.metadata.name).not.toBe(second?.metadata.name);
    expect(second?.involvedObject).toEqual({ kind: 'ConfigMap', name: 'thanos-query', namespace: NAMESPACE, apiVersion: 'v1' });
  });

  it.each([
    {
      name: 'RBAC refuses it',
      failure: apiError(403, 'Forbidden', 'events is forbidden'),
      says: 'HTTP 403 Forbidden: events is forbidden',
    },
    { name: 'the network fails', failure: new TypeError('fetch failed'), says: 'fetch failed' },
  ])('logs a warning and resolves when $name', async ({ failure, says }) => {
    const core = new FakeEventsApi();
    core.failure = failure;
    const { logger, entries } = captureLogger();
    const recorder = createEventRecorder({ api: core, namespace: NAMESPACE, logger });

    await expect(recorder.record(EVENT)).resolves.toBeUndefined();

    expect(entries).toEqual([
      expect.objectContaining({ level: 'warn', involved: `Deployment ${NAMESPACE}/thanos-query`, reason: EVENT.reason, error: says }),
    ]);
  });
});
