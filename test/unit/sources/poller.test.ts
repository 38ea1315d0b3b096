import { jest } from '@jest/globals';
import { createSilentLogger } from '../../../src/logger.ts';
import { Poller, pollSilenceBudgetMs } from '../../../src/sources/poller.ts';
import type { Route53ReadResult } from '../../../src/sources/route53-reader.ts';

const INTERVAL = 1_000;

function result(...hosts: string[]): Route53ReadResult {
  return { hosts, recordSetsRead: hosts.length, zones: ['Z1'], requests: 1 };
}

// Every read the tests leave unsettled is failed after each test so stop() can finish.
const unsettled: ((e: unknown) => void)[] = [];

/** A read whose every call the test settles by hand, with the calls' start times and overlap recorded. */
function controlledRead() {
  const calls: { startedAt: number; signal: AbortSignal; resolve: (r: Route53ReadResult) => void; reject: (e: unknown) => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const read = jest.fn((signal: AbortSignal) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise<Route53ReadResult>((resolve, reject) => {
      calls.push({ startedAt: Date.now(), signal, resolve, reject });
      unsettled.push(reject);
    }).finally(() => running--);
  });
  return { read, calls, maxRunning: () => maxRunning };
}

let current: Poller | undefined;

/** A poller over a controlled read (or `read`), stopped after the test. */
function setUp(read?: (signal: AbortSignal) => Promise<Route53ReadResult>) {
  const controlled = controlledRead();
  const onResult = jest.fn<(r: Route53ReadResult) => void>();
  const onError = jest.fn<(e: unknown) => void>();
  const logger = createSilentLogger();
  const poller = new Poller({ read: read ?? controlled.read, intervalMs: INTERVAL, onResult, onError, logger });
  current = poller;
  return { ...controlled, poller, onResult, onError, logger };
}

/** Starts the poller and lets its first poll begin. */
async function started<T extends { poller: Poller }>(setup: T): Promise<T> {
  setup.poller.start();
  await jest.advanceTimersByTimeAsync(0);
  return setup;
}

beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
});

afterEach(async () => {
  const stopping = current?.stop();
  for (const reject of unsettled.splice(0)) reject(new Error('test over'));
  await stopping;
  current = undefined;
  jest.useRealTimers();
});

describe('pollSilenceBudgetMs', () => {
  it('allows three intervals and a whole retry budget (about 2.2 minutes) before liveness fails', () => {
    expect(pollSilenceBudgetMs(60_000)).toBe(360_000);
    expect(pollSilenceBudgetMs(10_000)).toBe(210_000);
  });
});

describe('Poller', () => {
  it('polls at once, then every interval, handing each result to onResult', async () => {
    const { calls, onResult, onError } = await started(setUp());
    expect(calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(100);
    calls[0]?.resolve(result('a-grpc.x'));
    await jest.advanceTimersByTimeAsync(0);
    expect(onResult).toHaveBeenCalledWith(result('a-grpc.x'));

    await jest.advanceTimersByTimeAsync(INTERVAL - 101);
    expect(calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.startedAt)).toEqual([0, INTERVAL]);
    calls[1]?.resolve(result('b-grpc.x'));
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(calls.map((c) => c.startedAt)).toEqual([0, INTERVAL, 2 * INTERVAL]);
    expect(onResult.mock.calls).toEqual([[result('a-grpc.x')], [result('b-grpc.x')]]);
    expect(onError).not.toHaveBeenCalled();
  });

  it('never overlaps: a read slower than the interval delays the next until it ends', async () => {
    const { calls, maxRunning } = await started(setUp());

    await jest.advanceTimersByTimeAsync(5 * INTERVAL);
    expect(calls).toHaveLength(1);

    calls[0]?.resolve(result());
    await jest.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.startedAt).toBe(5 * INTERVAL);
    expect(maxRunning()).toBe(1);
  });

  it('hands failures to onError and keeps polling', async () => {
    const { calls, onResult, onError } = await started(setUp());
    const failure = new Error('Route53 zone Z1: ListResourceRecordSets failed');

    calls[0]?.reject(failure);
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(onError).toHaveBeenCalledWith(failure);
    expect(onResult).not.toHaveBeenCalled();

    calls[1]?.resolve(result('a-grpc.x'));
    await jest.advanceTimersByTimeAsync(0);
    expect(onResult).toHaveBeenCalledWith(result('a-grpc.x'));
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it('keeps polling when a callback throws, and logs it', async () => {
    const setup = setUp();
    const { calls } = setup;
    const error = jest.spyOn(setup.logger, 'error');
    setup.onResult.mockImplementation(() => {
      throw new Error('handler bug');
    });

    await started(setup);
    calls[0]?.resolve(result());
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(calls).toHaveLength(2);
    expect(error).toHaveBeenCalledWith('poller callback threw', { callback: 'onResult', error: 'handler bug' });
  });

  it('stop() aborts the poll in flight, resolves only once it has finished, and nothing runs after', async () => {
    const { poller, calls, onResult, onError } = await started(setUp());
    let stopped = false;
    const stopping = poller.stop().then(() => {
      stopped = true;
    });
    await jest.advanceTimersByTimeAsync(0);
    expect(calls[0]?.signal.aborted).toBe(true);
    expect(stopped).toBe(false);

    calls[0]?.reject(calls[0].signal.reason);
    await stopping;
    expect(stopped).toBe(true);
    await jest.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(calls).toHaveLength(1);
    expect(onError).not.toHaveBeenCalled();
    expect(onResult).not.toHaveBeenCalled();
  });

  it('stop() between polls cancels the timer and resolves at once', async () => {
    const { poller, calls } = await started(setUp());

    calls[0]?.resolve(result());
    await jest.advanceTimersByTimeAsync(INTERVAL / 2);

    await poller.stop();
    await jest.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(calls).toHaveLength(1);
  });

  it('does not deliver a result that arrives after stop()', async () => {
    const { poller, calls, onResult } = await started(setUp());
    const stopping = poller.stop();
    calls[0]?.resolve(result('a-grpc.x'));
    await stopping;
    expect(onResult).not.toHaveBeenCalled();
  });

  it('cannot be started twice', () => {
    const { poller } = setUp();
    poller.start();
    expect(() => poller.start()).toThrow('started once');
  });

  describe('pollOnce', () => {
    it('returns the result without calling the callbacks', async () => {
      const setup = setUp(async () => result('a-grpc.x'));

      await expect(setup.poller.pollOnce()).resolves.toEqual(result('a-grpc.x'));
      expect(setup.onResult).not.toHaveBeenCalled();
    });

    it('rejects with the read failure without calling onError', async () => {
      const failure = new Error('no zone');
      const setup = setUp(async () => Promise.reject(failure));

      await expect(setup.poller.pollOnce()).rejects.toBe(failure);
      expect(setup.onError).not.toHaveBeenCalled();
    });

    it('waits for the poll in flight instead of overlapping it', async () => {
      const { poller, calls, maxRunning } = await started(setUp());

      const once = poller.pollOnce();
      await jest.advanceTimersByTimeAsync(0);
      expect(calls).toHaveLength(1);

      calls[0]?.resolve(result('a-grpc.x'));
      await jest.advanceTimersByTimeAsync(0);
      expect(calls).toHaveLength(2);
      calls[1]?.resolve(result('b-grpc.x'));
      await expect(once).resolves.toEqual(result('b-grpc.x'));
      expect(maxRunning()).toBe(1);
    });

    it('rejects after stop() without reading', async () => {
      const { poller, calls } = setUp();

      await poller.stop();
      await expect(poller.pollOnce()).rejects.toThrow('poller stopped');
      expect(calls).toHaveLength(0);
    });
  });
});
