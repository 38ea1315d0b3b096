import { Heartbeat } from '../../../src/health.ts';
import { WriteFence, type WriteVerdict } from '../../../src/controller/fence.ts';
import { exitCode, EXIT, Manager, type Elector, type ManagerParts } from '../../../src/controller/manager.ts';
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

function parts(overrides: Partial<ManagerParts> = {}) {
  const calls: string[] = [];
  const now = { ms: 0 };
  const heartbeat = new Heartbeat(1_000, () => now.ms);
  const listeners: (() => void)[] = [];
  const base: ManagerParts = {
    elector: undefined,
    fence: new WriteFence(overrides.elector),
    caches: [
      {
        start: async () => void calls.push('cache.start'),
        stop: async () => void calls.push('cache.stop'),
        onChange: (listener) => void listeners.push(listener),
      },
    ],
    serve: async () => ({ close: async () => void calls.push('server.close') }),
    background: [],
    poller: { start: () => void calls.push('poller.start'), stop: async () => void calls.push('poller.stop') },
    queue: { add: () => void calls.push('queue.add'), stop: async () => void calls.push('queue.stop') },
    flush: async () => void calls.push('flush'),
    abort: () => void calls.push('abort'),
    heartbeat,
    readiness: [],
    hasDesired: () => true,
    shutdownDeadlineMs: 5_000,
    onDeadline: () => void calls.push('deadline'),
    logger: createSilentLogger(),
    metrics: createMetrics(),
  };
  return { calls, now, listeners, parts: { ...base, ...overrides } };
}

/** What every orderly stop ends with: the caches, the server and the alerts together, then the abort. */
const LAST_STOPS = ['cache.stop', 'server.close', 'flush', 'abort'];

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Manager', () => {
  it('without leader election polls at once, and on a signal stops in order: polls, queue, caches', async () => {
    const t = parts({ onLeading: () => void t.calls.push('onLeading') });
    const lifecycle = new Manager(t.parts);
    let signal = (_: string) => {};
    const running = lifecycle.run(new Promise((resolve) => (signal = resolve)));
    await tick();
    expect(t.calls).toEqual(['cache.start', 'poller.start', 'onLeading']);
    expect(t.parts.fence.mayWrite()).toEqual({ ok: true, validForMs: Number.POSITIVE_INFINITY });
    signal('SIGTERM');
    expect(await running).toEqual({ reason: 'signal', signal: 'SIGTERM' });
    expect(t.calls).toEqual(['cache.start', 'poller.start', 'onLeading', 'poller.stop', 'queue.stop', ...LAST_STOPS]);
  });

  it('fences writes from the moment it starts stopping, before the pass in flight ends', async () => {
    let release = () => {};
    const t = parts();
    const lifecycle = new Manager({
      ...t.parts,
      queue: { add: () => {}, stop: () => new Promise<void>((resolve) => (release = resolve)) },
    });
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
    const lifecycle = new Manager(t.parts);
    t.now.ms = 60_000; // long past the heartbeat window: a leader would be reported dead
    const running = lifecycle.run(new Promise(() => {}));
    await tick();
    expect(t.calls).toEqual(['cache.start']);
    expect(lifecycle.healthz()).toEqual({ ok: true });
    expect(lifecycle.readyz()).toEqual({ ok: true });
    expect(t.parts.fence.mayWrite()).toEqual({ ok: true, validForMs: 10_000 });

    elector.wins();
    await tick();
    // The checks only a leader runs (the consumer check) run again for the new leader.
    expect(t.calls).toEqual(['cache.start', 'poller.start', 'onLeading']);
    // Leading: the heartbeat was renewed on winning, and readiness now needs a first poll.
    expect(lifecycle.healthz()).toEqual({ ok: true });
    expect(lifecycle.readyz()).toEqual({ ok: false, reason: 'no successful Route53 poll yet' });
    elector.fence = { ok: false, reason: 'lease last renewed 11000 ms ago, past the renew deadline' };
    expect(t.parts.fence.mayWrite()).toEqual(elector.fence);
    t.now.ms += 5_000;
    expect(lifecycle.healthz()).toEqual({ ok: false, reason: 'no poll finished for 5s' });

    elector.loses();
    expect(await running).toEqual({ reason: 'leadership lost' });
    expect(t.calls).toEqual(['cache.start', 'poller.start', 'onLeading', 'poller.stop', 'queue.stop', 'elector.stop', ...LAST_STOPS]);
  });

  it('serves the probes while the caches list, starts the background checks once they have, and stops those first', async () => {
    let listed = () => {};
    let served: { healthz(): unknown; readyz(): unknown } | undefined;
    const t = parts({ hasDesired: () => false });
    const manager = new Manager({
      ...t.parts,
      caches: [{ ...t.parts.caches[0]!, start: () => new Promise<void>((resolve) => (listed = resolve)) }],
      serve: async (probes) => {
        served = probes;
        t.calls.push('serve');
        return { close: async () => void t.calls.push('server.close') };
      },
      background: [{ start: () => void t.calls.push('background.start'), stop: async () => void t.calls.push('background.stop') }],
    });
    let signal = (_: string) => {};
    const running = manager.run(new Promise((resolve) => (signal = resolve)));
    await tick();
    expect(t.calls).toEqual(['serve']);
    expect(served?.readyz()).toEqual({ ok: false, reason: 'no successful Route53 poll yet' });
    listed();
    await tick();
    expect(t.calls).toEqual(['serve', 'background.start', 'poller.start']);
    signal('SIGTERM');
    await running;
    expect(t.calls.slice(3)).toEqual(['poller.stop', 'queue.stop', 'background.stop', ...LAST_STOPS]);
  });

  it('asks the queue for a pass on each cache change once running, and not before', async () => {
    const t = parts();
    const manager = new Manager(t.parts);
    expect(t.listeners).toHaveLength(0);
    const running = manager.run(Promise.resolve('SIGTERM'));
    for (const listener of t.listeners) listener();
    await running;
    expect(t.calls.filter((call) => call === 'queue.add')).toHaveLength(1);
  });

  it.each([
    [{ reason: 'signal', signal: 'SIGTERM' } as const, EXIT.ok],
    [{ reason: 'leadership lost' } as const, EXIT.failed],
  ])('exit code of %j: %i', (ending, code) => {
    expect(exitCode(ending)).toBe(code);
  });

  it('reports the first failing readiness check', () => {
    const t = parts({
      readiness: [() => ({ ok: true }), () => ({ ok: false, reason: 'informers not synced' }), () => ({ ok: false, reason: 'later' })],
    });
    expect(new Manager(t.parts).readyz()).toEqual({ ok: false, reason: 'informers not synced' });
  });

  it('calls onDeadline when an orderly stop overruns', async () => {
    const t = parts({ shutdownDeadlineMs: 20, queue: { add: () => {}, stop: () => new Promise(() => {}) } });
    void new Manager(t.parts).run(Promise.resolve('SIGTERM'));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(t.calls).toContain('deadline');
  });
});
