import { Heartbeat } from '../../../src/health.ts';
import { WriteFence, type WriteVerdict } from '../../../src/controller/fence.ts';
import { Lifecycle, type Elector, type LifecycleParts } from '../../../src/controller/lifecycle.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';

class FakeElector implements Elector {
  leading = false;
  fence: WriteVerdict = { ok: true, validForMs: 10_000 };
  private win: (() => void) | undefined;
  private lose: ((result: 'stopped' | 'lost') => void) | undefined;
  /** Shared with the other fakes, so the order of stops across them shows. */
  calls: string[] = [];
  acquire(): Promise<void> {
    return new Promise((resolve) => (this.win = () => ((this.leading = true), resolve())));
  }
  holdUntilStopped(): Promise<'stopped' | 'lost'> {
    return new Promise((resolve) => (this.lose = resolve));
  }
  async stop(): Promise<void> {
    this.calls.push('elector.stop');
    this.leading = false;
  }
  isLeader(): boolean {
    return this.leading;
  }
  mayWrite() {
    return this.fence;
  }
  wins(): void {
    this.win?.();
  }
  loses(): void {
    this.leading = false;
    this.lose?.('lost');
  }
}

function parts(overrides: Partial<LifecycleParts> = {}) {
  const calls: string[] = [];
  const now = { ms: 0 };
  const heartbeat = new Heartbeat(1_000, () => now.ms);
  const base: LifecycleParts = {
    elector: undefined,
    fence: new WriteFence(overrides.elector),
    poller: { start: () => void calls.push('poller.start'), stop: async () => void calls.push('poller.stop') },
    queue: { stop: async () => void calls.push('queue.stop') },
    closeAll: async () => void calls.push('closeAll'),
    heartbeat,
    readiness: [],
    hasDesired: () => true,
    shutdownDeadlineMs: 5_000,
    onDeadline: () => void calls.push('deadline'),
    logger: createSilentLogger(),
    metrics: createMetrics(),
  };
  return { calls, now, parts: { ...base, ...overrides } };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Lifecycle', () => {
  it('without leader election polls at once, and on a signal stops in order: polls, queue, caches', async () => {
    const t = parts({ onLeading: () => void t.calls.push('onLeading') });
    const lifecycle = new Lifecycle(t.parts);
    let signal = (_: string) => {};
    const running = lifecycle.run(new Promise((resolve) => (signal = resolve)));
    await tick();
    expect(t.calls).toEqual(['poller.start', 'onLeading']);
    expect(t.parts.fence.mayWrite()).toEqual({ ok: true, validForMs: Number.POSITIVE_INFINITY });
    signal('SIGTERM');
    expect(await running).toEqual({ reason: 'signal', signal: 'SIGTERM' });
    expect(t.calls).toEqual(['poller.start', 'onLeading', 'poller.stop', 'queue.stop', 'closeAll']);
  });

  it('fences writes from the moment it starts stopping, before the pass in flight ends', async () => {
    let release = () => {};
    const t = parts();
    const lifecycle = new Lifecycle({ ...t.parts, queue: { stop: () => new Promise<void>((resolve) => (release = resolve)) } });
    let signal = (_: string) => {};
    const running = lifecycle.run(new Promise((resolve) => (signal = resolve)));
    await tick();
    signal('SIGTERM');
    await tick();
    await tick();
    expect(t.parts.fence.mayWrite()).toEqual({ ok: false, reason: 'shutting down' });
    release();
    await running;
  });

  it('a standby is live and ready without polling; it polls once it leads, and losing the lease ends the run', async () => {
    const elector = new FakeElector();
    const t = parts({ elector, hasDesired: () => false, onLeading: () => void t.calls.push('onLeading') });
    elector.calls = t.calls;
    const lifecycle = new Lifecycle(t.parts);
    t.now.ms = 60_000; // long past the heartbeat window: a leader would be reported dead
    const running = lifecycle.run(new Promise(() => {}));
    await tick();
    expect(t.calls).toEqual([]);
    expect(lifecycle.healthz()).toEqual({ ok: true });
    expect(lifecycle.readyz()).toEqual({ ok: true });
    expect(t.parts.fence.mayWrite()).toEqual({ ok: true, validForMs: 10_000 });

    elector.wins();
    await tick();
    // The checks only a leader runs (the consumer check) run again for the new leader.
    expect(t.calls).toEqual(['poller.start', 'onLeading']);
    // Leading: the heartbeat was renewed on winning, and readiness now needs a first poll.
    expect(lifecycle.healthz()).toEqual({ ok: true });
    expect(lifecycle.readyz()).toEqual({ ok: false, reason: 'no successful Route53 poll yet' });
    elector.fence = { ok: false, reason: 'lease last renewed 11000 ms ago, past the renew deadline' };
    expect(t.parts.fence.mayWrite()).toEqual(elector.fence);
    t.now.ms += 5_000;
    expect(lifecycle.healthz()).toEqual({ ok: false, reason: 'no poll finished for 5s' });

    elector.loses();
    expect(await running).toEqual({ reason: 'leadership lost' });
    expect(t.calls).toEqual(['poller.start', 'onLeading', 'poller.stop', 'queue.stop', 'elector.stop', 'closeAll']);
  });

  it('reports the first failing readiness check', () => {
    const t = parts({
      readiness: [() => ({ ok: true }), () => ({ ok: false, reason: 'informers not synced' }), () => ({ ok: false, reason: 'later' })],
    });
    expect(new Lifecycle(t.parts).readyz()).toEqual({ ok: false, reason: 'informers not synced' });
  });

  it('calls onDeadline when an orderly stop overruns', async () => {
    const t = parts({ shutdownDeadlineMs: 20, queue: { stop: () => new Promise(() => {}) } });
    void new Lifecycle(t.parts).run(Promise.resolve('SIGTERM'));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(t.calls).toContain('deadline');
  });
});
