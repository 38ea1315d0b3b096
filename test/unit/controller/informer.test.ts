import { jest } from '@jest/globals';
import { SingleObjectInformer, decisionKey } from '../../../src/controller/informer.ts';
import type { WatchFn } from '../../../src/kube/watch.ts';
import { KubeApiError } from '../../../src/kube/client.ts';
import type { ObjectList } from '../../../src/kube/types.ts';
import { WorkQueue } from '../../../src/controller/work-queue.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics, type Metrics } from '../../../src/metrics.ts';
import { metricValue } from '../metric-value.ts';

interface Obj {
  metadata: { name: string; resourceVersion: string; uid?: string; annotations?: Record<string, string> };
  spec?: { replicas?: number; template?: { metadata?: { annotations?: Record<string, string> } } };
  status?: { readyReplicas?: number };
}

const NAME = 'thanos-query';
const obj = (resourceVersion: string, extra: Partial<Obj> = {}): Obj => ({
  metadata: { name: NAME, resourceVersion, uid: 'u1' },
  ...extra,
});

interface WatchCall {
  path: string;
  query: Record<string, string | number | boolean | undefined>;
  emit: (type: string, object: unknown) => void;
  end: (error?: unknown) => void;
  aborted: () => boolean;
}

/** A stand-in for client-node's Watch: records each watch request; the test emits events and ends streams. */
class FakeWatch implements WatchFn {
  readonly calls: WatchCall[] = [];
  failNextWith: Error | undefined;

  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController> {
    const controller = new AbortController();
    let ended = false;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      done(error ?? null);
    };
    // Like client-node: aborting ends the stream and reports once.
    controller.signal.addEventListener('abort', () => end(null));
    this.calls.push({
      path,
      query,
      emit: (type, object) => !ended && onEvent(type, object),
      end,
      aborted: () => controller.signal.aborted,
    });
    if (this.failNextWith) {
      const error = this.failNextWith;
      this.failNextWith = undefined;
      end(error);
    }
    return controller;
  }

  get last(): WatchCall {
    const call = this.calls.at(-1);
    if (!call) throw new Error('no watch yet');
    return call;
  }
}

let metrics: Metrics;
let watch: FakeWatch;
let onChange: jest.Mock<() => void>;
let lists: ObjectList<Obj>[];
let list: jest.Mock<(fieldSelector: string) => Promise<ObjectList<Obj>>>;
let informer: SingleObjectInformer<Obj>;

function listing(resourceVersion: string, ...items: Obj[]): ObjectList<Obj> {
  return { items, metadata: { resourceVersion } };
}

function makeInformer(timing = {}): SingleObjectInformer<Obj> {
  const informer = new SingleObjectInformer<Obj>({
    resource: 'deployment',
    namespace: 'monitoring',
    name: NAME,
    path: '/apis/apps/v1/namespaces/monitoring/deployments',
    list,
    watch,
    logger: createSilentLogger(),
    metrics,
    random: () => 0.5,
    timing: { inactivityMs: 150_000, maxStalenessMs: 300_000, backoffBaseMs: 1_000, backoffMaxMs: 8_000, ...timing },
  });
  informer.onChange(onChange);
  return informer;
}

const events = (event: string) => metricValue(metrics.informerEvents, { resource: 'deployment', event });

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
  metrics = createMetrics();
  watch = new FakeWatch();
  onChange = jest.fn<() => void>();
  lists = [];
  list = jest.fn(async () => {
    const next = lists.shift();
    if (!next) throw new Error('apiserver unreachable');
    return next;
  });
  informer = makeInformer();
});

afterEach(async () => {
  await informer.stop();
  jest.useRealTimers();
});

describe('list then watch', () => {
  it('lists by name, then asks for a long server-side watch with bookmarks from the list resourceVersion', async () => {
    lists.push(listing('100', obj('90')));
    await informer.start();

    expect(list).toHaveBeenCalledWith(`metadata.name=${NAME}`);
    expect(informer.hasSynced()).toBe(true);
    expect(informer.get()?.metadata.resourceVersion).toBe('90');
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(watch.calls).toHaveLength(1);
    expect(watch.last.query).toEqual({
      fieldSelector: `metadata.name=${NAME}`,
      resourceVersion: '100',
      allowWatchBookmarks: true,
      timeoutSeconds: 450,
    });
  });

  it('draws each watch length between 5 and 10 minutes', async () => {
    const lengths = [0, 0.999].map((r) => {
      const query: Record<string, unknown>[] = [];
      const fake: WatchFn = { watch: async (_path, q) => (query.push(q), new AbortController()) };
      return { r, fake, query };
    });
    for (const { r, fake, query } of lengths) {
      lists.push(listing('1'));
      const one = new SingleObjectInformer<Obj>({
        resource: 'x',
        namespace: 'n',
        name: NAME,
        path: '/p',
        list,
        watch: fake,
        logger: createSilentLogger(),
        metrics,
        random: () => r,
      });
      await one.start();
      await one.stop();
      expect(query[0]?.['timeoutSeconds']).toBe(r === 0 ? 300 : 599);
    }
  });

  it('counts as synced with no object when the list is empty, and still starts one pass', async () => {
    lists.push(listing('5'));
    await informer.start();
    expect(informer.hasSynced()).toBe(true);
    expect(informer.get()).toBeUndefined();
    expect(onChange).toHaveBeenCalledTimes(1);
  });
});

describe('events', () => {
  beforeEach(async () => {
    lists.push(listing('100', obj('100', { spec: { replicas: 1 }, status: { readyReplicas: 0 } })));
    await informer.start();
    onChange.mockClear();
  });

  it('a status-only update replaces the cached object but starts no pass', () => {
    watch.last.emit('MODIFIED', obj('101', { spec: { replicas: 1 }, status: { readyReplicas: 1 } }));
    expect(informer.get()?.status?.readyReplicas).toBe(1);
    expect(onChange).not.toHaveBeenCalled();
  });

  it('a change of the pod template or annotations starts a pass, and the pass sees the new object', () => {
    let seen: Obj | undefined;
    onChange.mockImplementation(() => (seen = informer.get()));
    const rolled = obj('102', { spec: { replicas: 1, template: { metadata: { annotations: { hash: 'abc' } } } } });
    watch.last.emit('MODIFIED', rolled);
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(seen).toBe(rolled);
  });

  it('a deletion empties the cache and starts a pass; a re-creation starts another', () => {
    watch.last.emit('DELETED', obj('103'));
    expect(informer.get()).toBeUndefined();
    watch.last.emit('ADDED', obj('104', { metadata: { name: NAME, resourceVersion: '104', uid: 'u2' } }));
    expect(informer.get()?.metadata.uid).toBe('u2');
    expect(onChange).toHaveBeenCalledTimes(2);
  });

  it('a bookmark moves the resume point without touching the cache', async () => {
    const before = informer.get();
    watch.last.emit('BOOKMARK', { metadata: { resourceVersion: '250' } });
    expect(informer.get()).toBe(before);
    expect(onChange).not.toHaveBeenCalled();

    watch.last.end();
    await jest.advanceTimersByTimeAsync(0);
    expect(watch.calls).toHaveLength(2);
    expect(watch.last.query['resourceVersion']).toBe('250');
    expect(list).toHaveBeenCalledTimes(1);
  });

  it('an event that arrives while a pass runs leads to exactly one more pass, which sees it', async () => {
    jest.useRealTimers();
    const seen: (string | undefined)[] = [];
    let release = () => {};
    const queue = new WorkQueue({
      handler: async () => {
        seen.push(informer.get()?.spec?.template?.metadata?.annotations?.['hash']);
        if (seen.length === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      metrics,
      logger: createSilentLogger(),
      minIntervalMs: 1,
    });
    onChange.mockImplementation(() => queue.add());
    const template = (hash: string) => ({ spec: { template: { metadata: { annotations: { hash } } } } });
    watch.last.emit('MODIFIED', obj('110', template('a')));
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    watch.last.emit('MODIFIED', obj('111', template('b')));
    watch.last.emit('MODIFIED', obj('112', template('c')));
    release();
    while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await queue.stop();
    expect(seen).toEqual(['a', 'c']);
  });
});

describe('reconnects', () => {
  beforeEach(async () => {
    lists.push(listing('100', obj('100')));
    await informer.start();
    onChange.mockClear();
  });

  it('resumes from the last resourceVersion when the server ends a watch, without relisting', async () => {
    watch.last.emit('MODIFIED', obj('120', { spec: { replicas: 2 } }));
    watch.last.end();
    await jest.advanceTimersByTimeAsync(0);
    expect(watch.calls).toHaveLength(2);
    expect(watch.last.query['resourceVersion']).toBe('120');
    expect(list).toHaveBeenCalledTimes(1);
  });

  it('relists on 410 Gone (an ERROR event) after a backoff, keeping the cache until the relist answers', async () => {
    const cached = informer.get();
    let release = () => {};
    list.mockImplementationOnce(
      () => new Promise((resolve) => (release = () => resolve(listing('300', obj('290', { spec: { replicas: 3 } }))))),
    );
    watch.last.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 100 (250)' });
    // Backed off like any failure, as client-go's reflector backs off its relists.
    await jest.advanceTimersByTimeAsync(999);
    expect(list).toHaveBeenCalledTimes(1);
    expect(watch.calls[0]!.aborted()).toBe(true);
    await jest.advanceTimersByTimeAsync(1);

    expect(list).toHaveBeenCalledTimes(2);
    expect(informer.get()).toBe(cached);
    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(informer.get()?.spec?.replicas).toBe(3);
    // The relist found a change the watch had missed.
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(watch.last.query['resourceVersion']).toBe('300');
    expect(await events('expired')).toBe(1);
  });

  it('relists on a watch refused with HTTP 410', async () => {
    lists.push(listing('400', obj('100')));
    watch.last.end(new KubeApiError(410, JSON.stringify({ kind: 'Status', code: 410, reason: 'Gone' })));
    await jest.advanceTimersByTimeAsync(1_000);
    expect(list).toHaveBeenCalledTimes(2);
    // Same content as cached: a relist that finds nothing new starts no pass.
    expect(onChange).not.toHaveBeenCalled();
    expect(watch.last.query['resourceVersion']).toBe('400');
  });

  it('replaces a watch that goes quiet past the inactivity deadline, resuming from where it was', async () => {
    watch.last.emit('BOOKMARK', { metadata: { resourceVersion: '130' } });
    await jest.advanceTimersByTimeAsync(149_000);
    expect(watch.calls).toHaveLength(1);
    // A bookmark is a sign of life: the deadline starts again.
    watch.last.emit('BOOKMARK', { metadata: { resourceVersion: '131' } });
    await jest.advanceTimersByTimeAsync(149_000);
    expect(watch.calls).toHaveLength(1);

    await jest.advanceTimersByTimeAsync(1_000);
    expect(watch.calls[0]!.aborted()).toBe(true);
    expect(watch.calls).toHaveLength(2);
    expect(watch.last.query['resourceVersion']).toBe('131');
    expect(await events('inactive')).toBe(1);
    expect(list).toHaveBeenCalledTimes(1);
  });

  it('makes one watch request per server-side timeout while quiet, not one per half minute', async () => {
    for (let minute = 0; minute < 30; minute++) {
      await jest.advanceTimersByTimeAsync(60_000);
      watch.last.emit('BOOKMARK', { metadata: { resourceVersion: String(200 + minute) } });
      // The server closes each watch after its timeoutSeconds (450 s here).
      if ((minute + 1) % 7.5 < 1) watch.last.end();
    }
    expect(await events('watch')).toBeLessThanOrEqual(1 + 30 / 7.5);
    expect(await events('inactive')).toBe(0);
  });

  it('retries a failing watch with backoff; the cache keeps answering; readiness fails once stale past the limit', async () => {
    const cached = informer.get();
    const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    watch.failNextWith = refused();
    watch.last.end(refused());
    await jest.advanceTimersByTimeAsync(0);
    expect(await events('error')).toBe(1);
    // Backoff doubles: 1 s, 2 s, 4 s, 8 s, 8 s ...
    for (const delay of [1_000, 2_000, 4_000]) {
      const before = watch.calls.length;
      await jest.advanceTimersByTimeAsync(delay - 1);
      expect(watch.calls).toHaveLength(before);
      watch.failNextWith = refused();
      await jest.advanceTimersByTimeAsync(1);
      expect(watch.calls).toHaveLength(before + 1);
    }
    expect(informer.get()).toBe(cached);
    expect(informer.check()).toEqual({ ok: true });

    for (let i = 0; i < 40; i++) {
      watch.failNextWith = refused();
      await jest.advanceTimersByTimeAsync(8_000);
    }
    expect(informer.stalenessSeconds()).toBeGreaterThan(300);
    expect(informer.check()).toEqual({
      ok: false,
      reason: expect.stringMatching(/^deployment informer has not heard from the Kubernetes API for 3\d\ds$/),
    });
    expect(await metricValue(metrics.informerStaleness, { resource: 'deployment' })).toBeGreaterThan(300);

    // The API answers again: the watch resumes and readiness comes back with the first event.
    await jest.advanceTimersByTimeAsync(8_000);
    watch.last.emit('BOOKMARK', { metadata: { resourceVersion: '500' } });
    expect(informer.check()).toEqual({ ok: true });
    expect(informer.stalenessSeconds()).toBe(0);
    expect(informer.get()).toBe(cached);
  });

  it('measures staleness on the monotonic clock: a step of the wall clock (NTP) does not fail readiness', async () => {
    jest.setSystemTime(Date.now() + 3_600_000);
    expect(informer.stalenessSeconds()).toBe(0);
    expect(informer.check()).toEqual({ ok: true });
    jest.setSystemTime(Date.now() - 7_200_000);
    expect(informer.stalenessSeconds()).toBe(0);
  });

  it('counts an ERROR event as no sign of life: it refreshes neither the staleness clock nor the backoff', async () => {
    const error = { kind: 'Status', code: 500, reason: 'InternalError', message: 'etcd is unhappy' };
    await jest.advanceTimersByTimeAsync(20_000);
    watch.last.emit('ERROR', error);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(watch.calls).toHaveLength(2);
    expect(informer.stalenessSeconds()).toBe(21);
    watch.last.emit('ERROR', error);
    // The second failure in a row waits twice as long.
    await jest.advanceTimersByTimeAsync(1_999);
    expect(watch.calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(watch.calls).toHaveLength(3);
    expect(await events('error')).toBe(2);
  });

  it('counts a watch that ends within a second with no event as a failure and backs off; a longer one is a normal end', async () => {
    watch.last.end();
    await jest.advanceTimersByTimeAsync(999);
    expect(watch.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(watch.calls).toHaveLength(2);
    expect(await events('error')).toBe(1);

    await jest.advanceTimersByTimeAsync(1_000);
    watch.last.end();
    await jest.advanceTimersByTimeAsync(0);
    expect(watch.calls).toHaveLength(3);
    expect(await events('error')).toBe(1);
  });

  it('catches, logs and counts a change handler that throws; the watch goes on', async () => {
    onChange.mockImplementation(() => {
      throw new Error('handler bug');
    });
    watch.last.emit('MODIFIED', obj('140', { spec: { replicas: 4 } }));
    watch.last.emit('MODIFIED', obj('141', { spec: { replicas: 5 } }));
    expect(informer.get()?.spec?.replicas).toBe(5);
    expect(await events('callback_error')).toBe(2);
    expect(watch.calls).toHaveLength(1);
    expect(watch.last.aborted()).toBe(false);
  });

  it('is not ready before its first list, and retries the list until it answers', async () => {
    const fresh = makeInformer();
    await fresh.start();
    expect(fresh.check()).toEqual({ ok: false, reason: 'deployment informer not synced' });
    lists.push(listing('7', obj('7')));
    await jest.advanceTimersByTimeAsync(1_000);
    expect(fresh.hasSynced()).toBe(true);
    expect(fresh.check()).toEqual({ ok: true });
    await fresh.stop();
  });

  it('after stop, a stream that ends or an event that arrives does nothing', async () => {
    const last = watch.last;
    await informer.stop();
    expect(last.aborted()).toBe(true);
    last.emit('MODIFIED', obj('999', { spec: { replicas: 9 } }));
    await jest.advanceTimersByTimeAsync(600_000);
    expect(watch.calls).toHaveLength(1);
    expect(onChange).not.toHaveBeenCalled();
  });
});

describe('decisionKey', () => {
  it.each([
    ['status', { status: { readyReplicas: 3 } }, false],
    ['resourceVersion', { metadata: { name: NAME, resourceVersion: '9', uid: 'u1' } }, false],
    ['spec', { spec: { replicas: 2 } }, true],
    ['annotations', { metadata: { name: NAME, resourceVersion: '1', uid: 'u1', annotations: { a: 'b' } } }, true],
    ['uid (re-created)', { metadata: { name: NAME, resourceVersion: '1', uid: 'u2' } }, true],
  ])('a change of %s counts: %s', (_what, change, counts) => {
    expect(decisionKey(obj('1')) !== decisionKey({ ...obj('1'), ...change })).toBe(counts);
  });
});
