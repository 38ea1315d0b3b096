import type { Reconciler } from '../../../src/controller/reconciler.ts';
import { EXIT } from '../../../src/controller/manager.ts';
import { runOnce, type RunOnceParts } from '../../../src/controller/run-once.ts';
import { captureLogger } from '../sinks/fakes.ts';

const never = new Promise<never>(() => {});

/** A run whose reads, reconciles and start-up are given; records what it did. */
function aRun(overrides: Partial<RunOnceParts> = {}) {
  let signal: (name: string) => void = () => {};
  const did: string[] = [];
  const { logger, entries } = captureLogger();
  const parts: RunOnceParts = {
    started: Promise.resolve(),
    stopRequested: new Promise<string>((resolve) => (signal = resolve)),
    stopWriting: () => did.push('fence closed'),
    read: async () => ({ hosts: ['a-grpc.example.com'] }),
    desired: { update: () => did.push('desired updated'), readFailed: () => did.push('poll error reported') },
    reconciler: { reconcile: async () => (did.push('reconciled'), 'success') } as unknown as Reconciler,
    synced: () => true,
    logger,
    notifier: { notify: () => did.push('alerted') },
    stop: async () => did.push('stopped'),
    ...overrides,
  };
  return { parts, did, entries, signal: (name: string) => signal(name) };
}

describe('runOnce', () => {
  it('without a signal: one read, one pass, exit 0, then stops', async () => {
    const run = aRun();
    expect(await runOnce(run.parts)).toBe(EXIT.ok);
    expect(run.did).toEqual(['desired updated', 'reconciled', 'stopped']);
  });

  it('a failed Route53 read: reported through the desired set, no pass, exit 1', async () => {
    const run = aRun({ read: () => Promise.reject(new Error('AccessDenied')) });
    expect(await runOnce(run.parts)).toBe(EXIT.failed);
    expect(run.did).toEqual(['poll error reported', 'stopped']);
  });

  it.each([
    ['while Route53 has not answered', { read: () => never }],
    ['while the informers are still listing', { started: never }],
    ['while the pass is writing', { reconciler: { reconcile: () => never } as unknown as Reconciler }],
  ])('a stop signal %s: exit 0 at once, the fence closed, no alert', async (_when, overrides) => {
    const run = aRun(overrides);
    const result = runOnce(run.parts);
    await new Promise((resolve) => setImmediate(resolve));
    run.signal('SIGTERM');
    expect(await result).toBe(EXIT.ok);
    expect(run.did).toContain('fence closed');
    expect(run.did.at(-1)).toBe('stopped');
    expect(run.did).not.toContain('alerted');
    expect(run.did).not.toContain('poll error reported');
    expect(run.entries).toContainEqual(
      expect.objectContaining({ message: 'stopping on a signal: nothing more is written', signal: 'SIGTERM' }),
    );
  });
});
