import type { KubeApi } from '../../../src/kube/api.ts';
import type { Deployment, ObjectList } from '../../../src/kube/types.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import {
  buildRestartMessage,
  createDeploymentRestarter,
  RESTART_EVENT_REASON,
  type RestartRequest,
} from '../../../src/sinks/deployment-restarter.ts';
import { ENDPOINTS_HASH_ANNOTATION } from '../../../src/plan/published.ts';
import { KubernetesWriteError } from '../../../src/sinks/errors.ts';
import { FencedError, type WriteGuard } from '../../../src/sinks/write-guard.ts';
import { createEventRecorder, type EventRecorder, type RecordedEvent } from '../../../src/sinks/event-recorder.ts';
import { apiError, captureLogger } from './fakes.ts';
import { metricValue } from '../metric-value.ts';

const NAMESPACE = 'monitoring';
const NAME = 'thanos-query';

class FakeAppsApi implements Pick<KubeApi, 'listDeployments' | 'mergePatchDeployment'> {
  readonly calls: Array<{ namespace: string; name: string; patch: object }> = [];
  /** What a read answers: the Deployment as the API server holds it, without our annotation unless a test says so. */
  current: Deployment | undefined = { metadata: { name: NAME, namespace: NAMESPACE, uid: 'deploy-uid' } };
  answer: () => Deployment = () => ({ metadata: { name: NAME, namespace: NAMESPACE, uid: 'deploy-uid' } });

  async listDeployments(namespace: string, fieldSelector: string): Promise<ObjectList<Deployment>> {
    expect([namespace, fieldSelector]).toEqual([NAMESPACE, `metadata.name=${NAME}`]);
    return { items: this.current === undefined ? [] : [structuredClone(this.current)] };
  }

  async mergePatchDeployment(namespace: string, name: string, patch: object): Promise<Deployment> {
    this.calls.push({ namespace, name, patch });
    return this.answer();
  }
}

class RecordingEvents implements EventRecorder {
  readonly recorded: RecordedEvent[] = [];
  async record(event: RecordedEvent): Promise<void> {
    this.recorded.push(event);
  }
}

function setup(events: EventRecorder = new RecordingEvents()) {
  const apps = new FakeAppsApi();
  const metrics = createMetrics();
  const { logger, entries } = captureLogger();
  const restarter = createDeploymentRestarter({ api: apps, events, namespace: NAMESPACE, name: NAME, metrics, logger });
  return { apps, metrics, entries, restarter, restarts: () => metricValue(metrics.restarts) };
}

const CHANGE: RestartRequest = { hash: 'abc123', added: ['a-grpc.x.:10901', 'b-grpc.x.:10901'], removed: ['c-grpc.x.:10901'] };

describe('createDeploymentRestarter', () => {
  it('sends a JSON merge patch of the pod template hash annotation and nothing else', async () => {
    const { apps, restarter, restarts } = setup();

    await expect(restarter.restart(CHANGE)).resolves.toMatchObject({ kind: 'patched' });

    expect(apps.calls).toHaveLength(1);
    expect(apps.calls[0]).toEqual({
      name: NAME,
      namespace: NAMESPACE,
      patch: { spec: { template: { metadata: { annotations: { [ENDPOINTS_HASH_ANNOTATION]: 'abc123' } } } } },
    });
    expect(await restarts()).toBe(1);
  });

  it('leaves a Deployment that holds the hash already: no patch, no restart counted, no Event', async () => {
    const events = new RecordingEvents();
    const { apps, restarter, restarts } = setup(events);
    apps.current = {
      metadata: { name: NAME, namespace: NAMESPACE, uid: 'deploy-uid', resourceVersion: '7' },
      spec: { selector: {}, template: { metadata: { annotations: { [ENDPOINTS_HASH_ANNOTATION]: CHANGE.hash } } } },
    };

    await restarter.restart(CHANGE);

    expect(apps.calls).toEqual([]);
    expect(await restarts()).toBe(0);
    expect(events.recorded).toEqual([]);
  });

  it('records an Event on the Deployment naming what was added and removed', async () => {
    const events = new RecordingEvents();
    const { restarter } = setup(events);

    await restarter.restart(CHANGE);

    expect(events.recorded).toEqual([
      {
        involved: { kind: 'Deployment', name: NAME, apiVersion: 'apps/v1', uid: 'deploy-uid' },
        reason: RESTART_EVENT_REASON,
        message: '+2 -1: added a-grpc.x.:10901, b-grpc.x.:10901; removed c-grpc.x.:10901',
        type: 'Normal',
      },
    ]);
  });

  it.each([
    ['is not there to read', (apps: FakeAppsApi) => void (apps.current = undefined)],
    [
      'is deleted between the read and the patch',
      (apps: FakeAppsApi) =>
        void (apps.answer = () => {
          throw apiError(404, 'NotFound', `deployments.apps "${NAME}" not found`);
        }),
    ],
  ])('answers missing, with a warning and no event, when the Deployment %s', async (_title, arrange) => {
    const events = new RecordingEvents();
    const { apps, entries, restarter, restarts } = setup(events);
    arrange(apps);

    await expect(restarter.restart(CHANGE)).resolves.toEqual({ kind: 'missing' });

    expect(entries).toContainEqual(expect.objectContaining({ level: 'warn', deployment: `Deployment ${NAMESPACE}/${NAME}` }));
    expect(events.recorded).toEqual([]);
    expect(await restarts()).toBe(0);
  });

  it('throws a KubernetesWriteError naming the Deployment on any other failure', async () => {
    const { apps, restarter, restarts } = setup();
    apps.answer = () => {
      throw apiError(403, 'Forbidden', 'deployments.apps is forbidden: cannot patch');
    };

    const error = await restarter.restart(CHANGE).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(KubernetesWriteError);
    expect(error).toMatchObject({ resource: `Deployment ${NAMESPACE}/${NAME}`, status: 403 });
    expect((error as Error).message).toBe(
      `patch of Deployment ${NAMESPACE}/${NAME} failed: HTTP 403 Forbidden: deployments.apps is forbidden: cannot patch`,
    );
    expect(await restarts()).toBe(0);
  });

  it('sends the patch through the write guard, and nothing when the guard refuses', async () => {
    const apps = new FakeAppsApi();
    const metrics = createMetrics();
    const refuse: WriteGuard = async () => {
      throw new FencedError('not the leader');
    };
    const restarter = createDeploymentRestarter({
      api: apps,
      events: new RecordingEvents(),
      namespace: NAMESPACE,
      name: NAME,
      metrics,
      logger: createSilentLogger(),
      guard: refuse,
    });

    await expect(restarter.restart(CHANGE)).rejects.toThrow(new FencedError('not the leader'));
    expect(apps.calls).toEqual([]);
    expect(await metricValue(metrics.restarts)).toBe(0);
  });

  it('still reports the restart when the Event cannot be recorded', async () => {
    const api: Pick<KubeApi, 'createEvent'> = {
      async createEvent() {
        throw apiError(403, 'Forbidden', 'events is forbidden');
      },
    };
    const events = createEventRecorder({ api, namespace: NAMESPACE, logger: createSilentLogger() });
    const { restarter, restarts } = setup(events);

    await expect(restarter.restart(CHANGE)).resolves.toMatchObject({ kind: 'patched' });
    expect(await restarts()).toBe(1);
  });
});

describe('buildRestartMessage', () => {
  it.each([
    { name: 'both lists', added: ['a:1', 'b:1'], removed: ['c:1'], message: '+2 -1: added a:1, b:1; removed c:1' },
    { name: 'only additions', added: ['a:1'], removed: [], message: '+1 -0: added a:1' },
    { name: 'only removals', added: [], removed: ['a:1', 'b:1'], message: '+0 -2: removed a:1, b:1' },
    { name: 'no change in the set', added: [], removed: [], message: '+0 -0: endpoints hash is now h1' },
  ])('describes $name', ({ added, removed, message }) => {
    expect(buildRestartMessage({ hash: 'h1', added, removed })).toBe(message);
  });

  it.each([
    { name: 'many additions', added: 200, removed: 0 },
    { name: 'many removals', added: 0, removed: 200 },
    { name: 'many of both', added: 150, removed: 90 },
    { name: 'few additions and many removals', added: 2, removed: 300 },
  ])('stays under 1 KiB and counts what it left out for $name', ({ added, removed }) => {
    const endpoint = (side: string, index: number) => `cluster-${side}-${String(index).padStart(3, '0')}-grpc.internal.example.com.:10901`;
    const request = {
      hash: 'h1',
      added: Array.from({ length: added }, (_, index) => endpoint('new', index)),
      removed: Array.from({ length: removed }, (_, index) => endpoint('old', index)),
    };

    const message = buildRestartMessage(request);

    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(1024);
    expect(message.startsWith(`+${added} -${removed}: `)).toBe(true);
    for (const [side, total] of [
      ['new', added],
      ['old', removed],
    ] as const) {
      if (total === 0) continue;
      const shown = message.split(`cluster-${side}-`).length - 1;
      const more = new RegExp(`cluster-${side}-\\d+[^;]*, \\.\\.\\. (\\d+) more`).exec(message);
      const hidden = more === null ? 0 : Number(more[1]);
      expect(shown).toBeGreaterThan(0);
      expect(shown + hidden).toBe(total);
    }
  });
});
