// client-node's Watch as the informer's WatchFn, over a real local HTTP stream; its timers on jest's fake clock.
import { jest } from '@jest/globals';
import { KubeApiError } from '../../../src/kube/client.ts';
import {
  hold,
  startStandInApiServer,
  standInClient,
  status,
  streamHead,
  until,
  watchLine,
  type StandInApiServer,
} from './stand-in-apiserver.ts';

const PATH = '/api/v1/namespaces/ns/configmaps';
let server: StandInApiServer;
beforeEach(async () => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask'] });
  server = await startStandInApiServer();
});
afterEach(async () => {
  await server.close();
  jest.useRealTimers();
});

it('delivers each event with its object, a line split across writes included, and reports the end once, without an error', async () => {
  server.watches.push((response) => {
    streamHead(response);
    const added = watchLine('ADDED', { metadata: { name: 'sd', resourceVersion: '5' } });
    response.write(added.slice(0, 12));
    setImmediate(() => {
      response.write(added.slice(12));
      response.end(watchLine('BOOKMARK', { metadata: { resourceVersion: '6' } }));
    });
  });
  const events: [string, unknown][] = [];
  const ends: unknown[] = [];
  const { watch } = standInClient(server.url);
  await watch.watch(
    PATH,
    { resourceVersion: '4', allowWatchBookmarks: true },
    (type, object) => events.push([type, object]),
    (error) => ends.push(error),
  );
  await until(() => ends.length > 0, 'the end');
  expect(events).toEqual([
    ['ADDED', { metadata: { name: 'sd', resourceVersion: '5' } }],
    ['BOOKMARK', { metadata: { resourceVersion: '6' } }],
  ]);
  expect(ends).toEqual([null]);
  expect(Object.fromEntries(server.watchRequests()[0]!.query)).toEqual({
    watch: 'true',
    resourceVersion: '4',
    allowWatchBookmarks: 'true',
  });
});

it('keeps a quiet watch open past client-node’s 30 s default, and ends one silent past the idle timeout', async () => {
  server.watches.push(hold);
  const ends: unknown[] = [];
  const { watch } = standInClient(server.url, { idleTimeoutMs: 180_000 });
  await watch.watch(
    PATH,
    {},
    () => {},
    (error) => ends.push(error),
  );
  await until(() => server.openWatches() === 1, 'the watch');
  await jest.advanceTimersByTimeAsync(179_000);
  expect(ends).toEqual([]);
  expect(server.openWatches()).toBe(1);
  await jest.advanceTimersByTimeAsync(1_000);
  await until(() => ends.length === 1 && server.openWatches() === 0, 'the idle watch to end');
  expect((ends[0] as Error).name).toBe('TimeoutError');
});

it('reports a watch refused with an error status as a KubeApiError with that code', async () => {
  server.watches.push((response) => {
    response.writeHead(410, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(status(410, 'Gone', 'too old resource version')));
  });
  const ends: unknown[] = [];
  const { watch } = standInClient(server.url);
  await watch.watch(
    PATH,
    {},
    () => {},
    (error) => ends.push(error),
  );
  await until(() => ends.length === 1, 'the refusal');
  expect(ends[0]).toBeInstanceOf(KubeApiError);
  expect((ends[0] as KubeApiError).code).toBe(410);
});

it('closes the stream when its controller aborts', async () => {
  server.watches.push(hold);
  const { watch } = standInClient(server.url);
  const controller = await watch.watch(
    PATH,
    {},
    () => {},
    () => {},
  );
  await until(() => server.openWatches() === 1, 'the watch');
  controller.abort();
  await until(() => server.openWatches() === 0, 'the stream to close');
});
