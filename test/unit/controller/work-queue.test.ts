import { jest } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkQueue } from '../../../src/controller/work-queue.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics, type Metrics } from '../../../src/metrics.ts';
import { metricValue } from '../metric-value.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(2);
  }
}

describe('WorkQueue', () => {
  let metrics: Metrics;
  beforeEach(() => {
    metrics = createMetrics();
  });

  it('coalesces a burst of requests into one pass', async () => {
    let passes = 0;
    const queue = new WorkQueue({ handler: async () => void passes++, metrics, logger: createSilentLogger(), minIntervalMs: 5 });
    for (let i = 0; i < 50; i++) queue.add();
    await until(() => passes === 1);
    await sleep(30);
    expect(passes).toBe(1);
    await queue.stop();
  });

  it('runs exactly one more pass for requests that arrive while a pass runs', async () => {
    let passes = 0;
    const gate = deferred();
    const queue = new WorkQueue({
      handler: async () => {
        passes++;
        if (passes === 1) await gate.promise;
      },
      metrics,
      logger: createSilentLogger(),
      minIntervalMs: 1,
    });
    queue.add();
    await until(() => passes === 1);
    queue.add();
    queue.add();
    queue.add();
    expect(await metricValue(metrics.workQueueDepth)).toBe(1);
    gate.resolve();
    await until(() => passes === 2);
    await sleep(30);
    expect(passes).toBe(2);
    expect(await metricValue(metrics.workQueueDepth)).toBe(0);
    await queue.stop();
  });

  it('addAfter runs one pass after the earliest of the delays asked for, and none after stop()', async () => {
    // A fake clock: the assertions are about which delay wins, not about how busy the machine is.
    jest.useFakeTimers({ now: 0 });
    try {
      const passes: number[] = [];
      const queue = new WorkQueue({
        handler: async () => void passes.push(Date.now()),
        metrics,
        logger: createSilentLogger(),
        minIntervalMs: 1,
      });
      queue.addAfter(200);
      queue.addAfter(60);
      queue.addAfter(120);
      await jest.advanceTimersByTimeAsync(59);
      expect(passes).toEqual([]);
      // At 60 the request is queued; the pass starts on the queue's next timer, 1 ms later as Node's 0 ms timers do.
      await jest.advanceTimersByTimeAsync(2);
      expect(passes).toEqual([61]);
      await jest.advanceTimersByTimeAsync(300);
      expect(passes).toEqual([61]);

      queue.addAfter(30);
      await queue.stop();
      await jest.advanceTimersByTimeAsync(60);
      expect(passes).toEqual([61]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('a pass that asks for a requeue gets one more pass after that delay, as RequeueAfter does', async () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const passes: number[] = [];
      const queue = new WorkQueue({
        handler: async (requeueAfter) => {
          passes.push(Date.now());
          if (passes.length === 1) requeueAfter(100);
        },
        metrics,
        logger: createSilentLogger(),
        minIntervalMs: 1,
      });
      queue.add();
      await jest.advanceTimersByTimeAsync(2);
      expect(passes).toEqual([0]);
      await jest.advanceTimersByTimeAsync(97);
      expect(passes).toEqual([0]);
      await jest.advanceTimersByTimeAsync(500);
      expect(passes).toHaveLength(2);
      // Due at 100; it runs on the queue's next timer, 1 ms later as Node's 0 ms timers do.
      expect(passes[1]).toBeGreaterThanOrEqual(100);
      expect(passes[1]).toBeLessThanOrEqual(101);
      await queue.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  it('never runs two passes at once', async () => {
    let running = 0;
    let overlapped = false;
    let passes = 0;
    const queue = new WorkQueue({
      handler: async () => {
        running++;
        overlapped ||= running > 1;
        await sleep(5);
        running--;
        passes++;
      },
      metrics,
      logger: createSilentLogger(),
      minIntervalMs: 0,
    });
    for (let i = 0; i < 20; i++) {
      queue.add();
      await sleep(1);
    }
    await until(() => running === 0 && passes > 1);
    expect(overlapped).toBe(false);
    await queue.stop();
  });

  it('retries a failed pass with growing, capped backoff and counts the retries', async () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const starts: number[] = [];
      const queue = new WorkQueue({
        handler: async () => {
          starts.push(Date.now());
          if (starts.length <= 3) throw new Error('apiserver said no');
        },
        metrics,
        logger: createSilentLogger(),
        minIntervalMs: 0,
        backoff: { baseMs: 20, maxMs: 50 },
        random: () => 1,
      });
      queue.add();
      await jest.advanceTimersByTimeAsync(500);
      // With random()=1 the delays are exactly the ceilings: 20, 40, then capped at 50; the fourth pass succeeds.
      const gaps = starts.slice(1).map((start, i) => start - starts[i]!);
      expect(gaps).toEqual([20, 40, 50]);
      expect(await metricValue(metrics.workQueueRetries)).toBe(3);
      await queue.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  it('stop() waits for the pass in flight and takes no more work', async () => {
    const gate = deferred();
    let finished = false;
    let passes = 0;
    const queue = new WorkQueue({
      handler: async () => {
        passes++;
        await gate.promise;
        finished = true;
      },
      metrics,
      logger: createSilentLogger(),
      minIntervalMs: 0,
    });
    queue.add();
    await until(() => passes === 1);
    queue.add();
    const stopped = queue.stop();
    setTimeout(gate.resolve, 20);
    await stopped;
    expect(finished).toBe(true);
    queue.add();
    await sleep(20);
    expect(passes).toBe(1);
  });
});
