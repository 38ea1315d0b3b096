import {
  HttpMethod,
  PatchStrategy,
  RequestContext,
  type AppsV1Api,
  type AppsV1ApiPatchNamespacedDeploymentRequest,
  type ConfigurationOptions,
  type CoreV1Api,
  type CoreV1ApiCreateNamespacedEventRequest,
  type CoreV1Event,
  type V1Deployment,
} from '@kubernetes/client-node';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import {
  buildRestartMessage,
  createDeploymentRestarter,
  ENDPOINTS_HASH_ANNOTATION,
  RESTART_EVENT_REASON,
  type RestartRequest,
} from '../../../src/sinks/deployment-restarter.ts';
import { KubernetesWriteError } from '../../../src/sinks/errors.ts';
import { createEventRecorder, type EventRecorder, type RecordedEvent } from '../../../src/sinks/event-recorder.ts';
import { apiError, captureLogger } from './fakes.ts';
import { metricValue } from '../metric-value.ts';

const NAMESPACE = 'monitoring';
const NAME = 'thanos-query';

class FakeAppsApi implements Pick<AppsV1Api, 'patchNamespacedDeployment'> {
  readonly calls: Array<{ param: AppsV1ApiPatchNamespacedDeploymentRequest; options: ConfigurationOptions | undefined }> = [];
  answer: () => V1Deployment = () => ({ metadata: { name: NAME, namespace: NAMESPACE, uid: 'deploy-uid' } });

  async patchNamespacedDeployment(param: AppsV1ApiPatchNamespacedDeploymentRequest, options?: ConfigurationOptions): Promise<V1Deployment> {
    this.calls.push({ param, options });
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
  const restarter = createDeploymentRestarter({ apps, events, namespace: NAMESPACE, name: NAME, metrics, logger });
  return { apps, metrics, entries, restarter, restarts: () => metricValue(metrics.restarts) };
}

// The header the middleware puts on a real request, which is what the apiserver will see.
async function contentTypeSentWith(options: ConfigurationOptions | undefined): Promise<string | undefined> {
  let context = new RequestContext('https://127.0.0.1/apis/apps/v1', HttpMethod.PATCH);
  context.setHeaderParam('Content-Type', 'application/json-patch+json');
  for (const middleware of options?.middleware ?? []) context = await middleware.pre(context).toPromise();
  return context.getHeaders()['Content-Type'];
}

const CHANGE: RestartRequest = { hash: 'abc123', added: ['a-grpc.x.:10901', 'b-grpc.x.:10901'], removed: ['c-grpc.x.:10901'] };

describe('createDeploymentRestarter', () => {
  it('sends a JSON merge patch of the pod template hash annotation and nothing else', async () => {
    const { apps, restarter, restarts } = setup();

    await expect(restarter.restart(CHANGE)).resolves.toBe('patched');

    expect(apps.calls).toHaveLength(1);
    expect(apps.calls[0]?.param).toEqual({
      name: NAME,
      namespace: NAMESPACE,
      body: { spec: { template: { metadata: { annotations: { [ENDPOINTS_HASH_ANNOTATION]: 'abc123' } } } } },
    });
    expect(await contentTypeSentWith(apps.calls[0]?.options)).toBe(PatchStrategy.MergePatch);
    expect(await restarts()).toBe(1);
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

  it('answers missing, with a warning and no event, when the Deployment does not exist', async () => {
    const events = new RecordingEvents();
    const { apps, entries, restarter, restarts } = setup(events);
    apps.answer = () => {
      throw apiError(404, 'NotFound', `deployments.apps "${NAME}" not found`);
    };

    await expect(restarter.restart(CHANGE)).resolves.toBe('missing');

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

  it('still reports the restart when the Event cannot be recorded', async () => {
    const core: Pick<CoreV1Api, 'createNamespacedEvent'> = {
      async createNamespacedEvent(_param: CoreV1ApiCreateNamespacedEventRequest): Promise<CoreV1Event> {
        throw apiError(403, 'Forbidden', 'events is forbidden');
      },
    };
    const events = createEventRecorder({ core, namespace: NAMESPACE, logger: createSilentLogger() });
    const { restarter, restarts } = setup(events);

    await expect(restarter.restart(CHANGE)).resolves.toBe('patched');
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
