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
    const passes: number[] = [];
    const started = Date.now();
    const queue = new WorkQueue({
      handler: async () => void passes.push(Date.now() - started),
      metrics,
      logger: createSilentLogger(),
      minIntervalMs: 1,
    });
    queue.addAfter(200);
    queue.addAfter(60);
    queue.addAfter(120);
    await until(() => passes.length === 1);
    await sleep(250);
    expect(passes).toHaveLength(1);
    expect(passes[0]).toBeGreaterThanOrEqual(55);
    expect(passes[0]).toBeLessThan(190);

    queue.addAfter(30);
    await queue.stop();
    await sleep(60);
    expect(passes).toHaveLength(1);
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
    await until(() => starts.length === 4);
    const gaps = starts.slice(1).map((start, i) => start - starts[i]!);
    // With random()=1 the delays are exactly the ceilings: 20, 40, then capped at 50.
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(49);
    expect(gaps[2]).toBeLessThan(200);
    expect(await metricValue(metrics.workQueueRetries)).toBe(3);
    await sleep(80);
    expect(starts).toHaveLength(4);
    await queue.stop();
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
