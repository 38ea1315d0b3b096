// The informer over the controller's real Kubernetes client (client-node) and a real local HTTP stream (test/unit/kube/
// stand-in-apiserver.ts), as a new user's cluster or a proxy in front of it can behave: an ERROR event and the end of
// the stream in one write, ERROR events again and again, watches that end at once, a change handler that throws.
// Timers, backoff and staleness run on jest's fake clock; only the sockets are real.
import { jest } from '@jest/globals';
import { SingleObjectInformer } from '../../../src/controller/informer.ts';
import { deploymentsPath } from '../../../src/kube/api.ts';
import type { Deployment } from '../../../src/kube/types.ts';
import { createMetrics, type Metrics } from '../../../src/metrics.ts';
import { captureLogger, type CapturedLogger } from '../sinks/fakes.ts';
import { metricValue } from '../metric-value.ts';
import {
  drain,
  hold,
  standInClient,
  startStandInApiServer,
  status,
  streamHead,
  until,
  watchLine,
  type StandInApiServer,
} from '../kube/stand-in-apiserver.ts';

const NAMESPACE = 'monitoring';
const NAME = 'thanos-query';
const TIMING = { backoffBaseMs: 1_000, backoffMaxMs: 8_000, maxStalenessMs: 30_000, inactivityMs: 150_000 };

const deployment = (resourceVersion: string, replicas = 1): Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: NAME, namespace: NAMESPACE, resourceVersion, uid: 'u1' },
  spec: { replicas },
});
const listOf = (resourceVersion: string, ...items: Deployment[]) => ({
  apiVersion: 'apps/v1',
  kind: 'DeploymentList',
  metadata: { resourceVersion },
  items,
});

let server: StandInApiServer;
let metrics: Metrics;
let log: CapturedLogger;
let informer: SingleObjectInformer<Deployment>;
let onChange: jest.Mock<() => void>;

function makeInformer(): SingleObjectInformer<Deployment> {
  const { api, watch } = standInClient(server.url);
  const made = new SingleObjectInformer<Deployment>({
    resource: 'deployment',
    namespace: NAMESPACE,
    name: NAME,
    path: deploymentsPath(NAMESPACE),
    list: (fieldSelector) => api.listDeployments(NAMESPACE, fieldSelector),
    watch,
    logger: log.logger,
    metrics,
    random: () => 0.5,
    timing: TIMING,
  });
  made.onChange(onChange);
  return made;
}

const events = (event: string) => metricValue(metrics.informerEvents, { resource: 'deployment', event });
/** The delays the informer chose for its retries so far, in order. */
const retryDelays = () => log.entries.filter((entry) => typeof entry['retryInMs'] === 'number').map((entry) => entry['retryInMs']);

beforeEach(async () => {
  // Sockets need the real event loop (nextTick, immediates); the informer's clocks and timers are fake.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask'] });
  server = await startStandInApiServer();
  metrics = createMetrics();
  log = captureLogger();
  onChange = jest.fn<() => void>();
  informer = makeInformer();
});

afterEach(async () => {
  await informer.stop();
  await server.close();
  jest.useRealTimers();
});

it('an ERROR 410 and the end of the stream in one write: no crash, exactly one relist, resumed from the relist', async () => {
  server.lists.push(listOf('100', deployment('100')), listOf('200', deployment('200', 2)));
  server.watches.push((response) => {
    streamHead(response);
    response.end(watchLine('ERROR', status(410, 'Expired', 'too old resource version: 100 (150)')));
  });
  await informer.start();
  await until(() => retryDelays().length === 1, 'the relist to be scheduled');
  await jest.advanceTimersByTimeAsync(retryDelays()[0] as number);
  await until(() => server.watchRequests().length === 2, 'the watch after the relist');
  await drain();
  // Well inside the staleness limit: the held-open watch sends nothing, not even bookmarks.
  await jest.advanceTimersByTimeAsync(20_000);
  await drain();

  expect(server.listRequests()).toHaveLength(2);
  expect(server.watchRequests()).toHaveLength(2);
  expect(server.watchRequests()[1]!.query.get('resourceVersion')).toBe('200');
  expect(informer.get()?.spec?.replicas).toBe(2);
  expect(await events('expired')).toBe(1);
  expect(informer.check()).toEqual({ ok: true });
});

it('ERROR 500 again and again: never counts as heard, the backoff grows, and readiness fails past the staleness limit', async () => {
  server.lists.push(listOf('100', deployment('100')));
  const failing = (response: Parameters<typeof hold>[0]) => {
    streamHead(response);
    response.write(watchLine('ERROR', status(500, 'InternalError', 'etcd is unhappy')));
  };
  for (let i = 0; i < 12; i++) server.watches.push(failing);
  await informer.start();

  let elapsedMs = 0;
  for (let attempt = 1; attempt <= 8; attempt++) {
    await until(() => retryDelays().length === attempt, `retry ${attempt} to be scheduled`);
    const delay = retryDelays()[attempt - 1] as number;
    expect(delay).toBe(Math.min(TIMING.backoffMaxMs, TIMING.backoffBaseMs * 2 ** (attempt - 1)));
    // Each ERROR'd stream is closed by the client, not left open beside the next one.
    await until(() => server.openWatches() === 0, 'the failed stream to be closed');
    expect(informer.check()).toEqual(
      elapsedMs > TIMING.maxStalenessMs
        ? { ok: false, reason: expect.stringMatching(/^deployment informer has not heard from the Kubernetes API for \d+s$/) }
        : { ok: true },
    );
    await jest.advanceTimersByTimeAsync(delay);
    elapsedMs += delay;
    await until(() => server.watchRequests().length === attempt + 1, `watch ${attempt + 1}`);
  }
  // 1 + 2 + 4 + 8 * 5 = 47 s without a sign of life: past the 30 s limit.
  expect(elapsedMs).toBeGreaterThan(TIMING.maxStalenessMs);
  expect(informer.check().ok).toBe(false);
  expect(server.listRequests()).toHaveLength(1);
  expect(await events('error')).toBe(8);
});

it('a watch answered 200 that ends at once with no event is a failure: backed off, a bounded number of requests', async () => {
  server.lists.push(listOf('100', deployment('100')));
  const endsAtOnce = (response: Parameters<typeof hold>[0]) => {
    streamHead(response);
    response.end();
  };
  for (let i = 0; i < 50; i++) server.watches.push(endsAtOnce);
  await informer.start();

  // A minute of fake time: retries after 1, 2, 4, 8, 8, ... seconds make at most 10 more watch requests.
  let elapsedMs = 0;
  while (elapsedMs < 60_000) {
    const retries = retryDelays().length;
    await until(() => retryDelays().length === retries + 1 || server.watchRequests().length > 20, 'a retry to be scheduled');
    expect(server.watchRequests().length).toBeLessThanOrEqual(retries + 1);
    const delay = retryDelays().at(-1) as number;
    await jest.advanceTimersByTimeAsync(delay);
    elapsedMs += delay;
    await until(() => server.watchRequests().length === retries + 2, 'the next watch request');
  }
  expect(server.watchRequests().length).toBeLessThanOrEqual(11);
  expect(retryDelays().slice(0, 5)).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
  expect(await events('error')).toBe(retryDelays().length);
});

it('a change handler that throws is caught, logged and counted; the informer keeps its cache and its watch', async () => {
  onChange.mockImplementation(() => {
    throw new Error('handler bug');
  });
  server.lists.push(listOf('100', deployment('100')));
  let stream: Parameters<typeof hold>[0] | undefined;
  server.watches.push((response) => {
    streamHead(response);
    stream = response;
  });
  await informer.start();
  await until(() => stream !== undefined, 'the watch');
  stream!.write(watchLine('MODIFIED', deployment('101', 2)));
  await until(() => informer.get()?.spec?.replicas === 2, 'the first change');
  stream!.write(watchLine('MODIFIED', deployment('102', 3)));
  await until(() => informer.get()?.spec?.replicas === 3, 'the second change');
  await drain();

  // The first list and both changes each called the handler, and each throw was caught.
  expect(onChange).toHaveBeenCalledTimes(3);
  expect(await events('callback_error')).toBe(3);
  expect(log.entries.filter((entry) => entry['message'] === 'informer callback failed' && entry['callback'] === 'onChange')).toHaveLength(
    3,
  );
  expect(server.watchRequests()).toHaveLength(1);
  expect(informer.check()).toEqual({ ok: true });
});
