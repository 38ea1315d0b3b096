import { jest } from '@jest/globals';
import { KubeApiError } from '../../../src/kube/client.ts';
import { formatMicroTime, type Lease } from '../../../src/kube/types.ts';
import { LeaderElector, decideLease } from '../../../src/controller/leader-election.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');

function lease(holder: string | undefined, durationSeconds = 15): Lease {
  return {
    metadata: { name: 'tsd', resourceVersion: '1' },
    spec: { holderIdentity: holder, renewTime: formatMicroTime(NOW), leaseDurationSeconds: durationSeconds },
  };
}

describe('decideLease', () => {
  it.each([
    { name: 'no lease yet', lease: undefined, unchangedForMs: 0, expected: { kind: 'take', transition: false } },
    { name: 'a released lease', lease: lease(''), unchangedForMs: 0, expected: { kind: 'take', transition: true } },
    { name: 'our own lease', lease: lease('me'), unchangedForMs: 100_000, expected: { kind: 'renew' } },
    { name: 'a lease of another, just seen', lease: lease('other'), unchangedForMs: 0, expected: { kind: 'wait', holder: 'other' } },
    {
      name: 'a lease of another, unchanged exactly its duration',
      lease: lease('other'),
      unchangedForMs: 15_000,
      expected: { kind: 'wait', holder: 'other' },
    },
    {
      name: 'a lease of another, unchanged past its duration',
      lease: lease('other'),
      unchangedForMs: 15_001,
      expected: { kind: 'take', transition: true },
    },
  ])('$name', ({ lease: current, unchangedForMs, expected }) => {
    expect(decideLease(current, 'me', unchangedForMs)).toEqual(expected);
  });

  it('ignores the renewTime the holder wrote, so a skewed clock cannot expire a live lease', () => {
    const renewedLongAgoByItsClock = { ...lease('other'), spec: { ...lease('other').spec, renewTime: formatMicroTime(0) } };
    expect(decideLease(renewedLongAgoByItsClock, 'me', 0)).toEqual({ kind: 'wait', holder: 'other' });
  });
});

/** A Lease store with the API server's optimistic concurrency: a replace must carry the current resourceVersion. */
class FakeLeaseApi {
  stored: Lease | undefined;
  failing = false;
  hanging = false;
  replaces = 0;
  /** Runs once before the next replace is judged: another write landing between our read and our write. */
  beforeNextReplace: (() => void) | undefined;
  private version = 0;

  async readLease(): Promise<Lease> {
    if (this.hanging) return new Promise(() => {});
    if (this.failing) throw new KubeApiError(503, '');
    if (!this.stored) throw new KubeApiError(404, '');
    return structuredClone(this.stored);
  }
  async createLease(_namespace: string, body: Lease): Promise<Lease> {
    if (this.stored) throw new KubeApiError(409, '');
    return this.save(body);
  }
  async replaceLease(_namespace: string, _name: string, body: Lease): Promise<Lease> {
    if (this.failing) throw new KubeApiError(503, '');
    this.beforeNextReplace?.();
    this.beforeNextReplace = undefined;
    if (body.metadata?.resourceVersion !== this.stored?.metadata?.resourceVersion) throw new KubeApiError(409, '');
    this.replaces++;
    return this.save(body);
  }
  /** Stores `lease` as another client's write would: a new resourceVersion. */
  save(body: Lease): Lease {
    this.stored = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.version) } };
    return this.stored;
  }
}

const TIMINGS = { leaseDurationMs: 300, renewDeadlineMs: 150, retryPeriodMs: 10 };

/** On jest's fake timers, whose clock also drives performance.now, the elector's monotonic clock. */
function elector(api: FakeLeaseApi, identity: string) {
  return new LeaderElector({
    api,
    namespace: 'monitoring',
    name: 'tsd',
    identity,
    timings: TIMINGS,
    logger: createSilentLogger(),
    metrics: createMetrics(),
  });
}

/** Settles `promise` while the fake clock runs, without waiting on the wall clock. */
async function settled<T>(promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.finally(() => (done = true)).catch(() => undefined);
  await jest.advanceTimersByTimeAsync(0);
  while (!done) await jest.advanceTimersByTimeAsync(TIMINGS.retryPeriodMs);
  return promise;
}

describe('LeaderElector', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('takes a free lease, and a second candidate waits while it is renewed', async () => {
    const api = new FakeLeaseApi();
    const first = elector(api, 'a');
    await settled(first.acquire());
    expect(first.isLeader()).toBe(true);
    expect(api.stored?.spec?.holderIdentity).toBe('a');
    const holding = first.holdUntilStopped();

    const second = elector(api, 'b');
    let secondWon = false;
    const campaign = second.acquire().then(
      () => (secondWon = true),
      () => undefined,
    );
    // Five lease durations (the 300 ms lease is written as 1 s): renewed all along, it never expires.
    await jest.advanceTimersByTimeAsync(5_000);
    expect(secondWon).toBe(false);
    expect(api.replaces).toBeGreaterThanOrEqual(5_000 / TIMINGS.retryPeriodMs - 1);
    expect(api.stored?.spec?.holderIdentity).toBe('a');
    await second.stop();
    await campaign;
    await first.stop();
    await expect(holding).resolves.toBe('stopped');
  });

  it('hands the lease over on stop, so a standby takes it without waiting for expiry', async () => {
    const api = new FakeLeaseApi();
    const first = elector(api, 'a');
    await settled(first.acquire());
    await first.stop();
    expect(api.stored?.spec?.holderIdentity).toBe('');

    const second = elector(api, 'b');
    await settled(second.acquire());
    expect(api.stored?.spec?.holderIdentity).toBe('b');
    expect(api.stored?.spec?.leaseTransitions).toBe(1);
    await second.stop();
  });

  it('takes over a lease of a vanished leader once it has stayed unchanged past its duration', async () => {
    const api = new FakeLeaseApi();
    await settled(elector(api, 'gone').acquire());
    const next = elector(api, 'b');
    let won = false;
    const campaign = next.acquire().then(() => (won = true));
    // A Lease counts whole seconds: the 300 ms lease is written as 1 s, and it must look unchanged for longer.
    await jest.advanceTimersByTimeAsync(1_000);
    expect(won).toBe(false);
    await jest.advanceTimersByTimeAsync(2 * TIMINGS.retryPeriodMs);
    expect(won).toBe(true);
    await campaign;
    expect(api.stored?.spec?.holderIdentity).toBe('b');
    await next.stop();
  });

  it('keeps leading when a renewal meets 409 because its own earlier renewal landed late', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    await settled(leader.acquire());
    const holding = leader.holdUntilStopped();
    await jest.advanceTimersByTimeAsync(3 * TIMINGS.retryPeriodMs);
    // A renewal that timed out on our side is written now, between our read and our write: same holder, new version.
    api.beforeNextReplace = () => void api.save(api.stored!);
    const renewedBefore = api.replaces;
    await jest.advanceTimersByTimeAsync(TIMINGS.renewDeadlineMs);

    expect(leader.isLeader()).toBe(true);
    expect(leader.mayWrite().ok).toBe(true);
    expect(api.replaces).toBeGreaterThan(renewedBefore);
    expect(api.stored?.spec?.holderIdentity).toBe('a');
    await leader.stop();
    await expect(holding).resolves.toBe('stopped');
  });

  it('steps down at once when the 409 came from another holder', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    await settled(leader.acquire());
    const holding = leader.holdUntilStopped();
    api.beforeNextReplace = () => void api.save({ ...api.stored!, spec: { ...api.stored!.spec, holderIdentity: 'usurper' } });

    await expect(settled(holding)).resolves.toBe('lost');
    expect(leader.isLeader()).toBe(false);
  });

  it('fences writes once the last renewal was sent a renew deadline ago, before its loop notices anything', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    expect(leader.mayWrite()).toEqual({ ok: false, reason: 'not the leader' });
    await settled(leader.acquire());
    expect(leader.mayWrite()).toEqual({ ok: true, validForMs: 150 });
    jest.advanceTimersByTime(149);
    expect(leader.mayWrite()).toEqual({ ok: true, validForMs: 1 });
    // Frozen (SIGSTOP) past the renew deadline: isLeader() still says yes, the fence says no.
    jest.advanceTimersByTime(1);
    expect(leader.isLeader()).toBe(true);
    expect(leader.mayWrite()).toEqual({ ok: false, reason: 'lease last renewed 150 ms ago, past the renew deadline' });
    await leader.stop();
    expect(leader.mayWrite().ok).toBe(false);
  });

  it('steps down once renewals fail past the renew deadline', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    await settled(leader.acquire());
    api.failing = true;
    const started = performance.now();
    await expect(settled(leader.holdUntilStopped())).resolves.toBe('lost');
    expect(performance.now() - started).toBeGreaterThanOrEqual(TIMINGS.renewDeadlineMs);
    expect(leader.isLeader()).toBe(false);
  });

  it('steps down within the renew deadline even when a renewal request hangs', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    await settled(leader.acquire());
    api.hanging = true;
    const started = performance.now();
    await expect(settled(leader.holdUntilStopped())).resolves.toBe('lost');
    // Deadline 150 ms after the last renewal, plus the retry period it slept before trying: not the hung request.
    expect(performance.now() - started).toBeLessThanOrEqual(TIMINGS.renewDeadlineMs + 2 * TIMINGS.retryPeriodMs);
    expect(leader.isLeader()).toBe(false);
  });

  it('steps down at once when another replica holds the lease', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    await settled(leader.acquire());
    api.stored = { ...api.stored!, spec: { ...api.stored!.spec, holderIdentity: 'usurper' } };
    await expect(settled(leader.holdUntilStopped())).resolves.toBe('lost');
  });

  it('hands back a lease won by an attempt that was in flight when stop() came', async () => {
    const api = new FakeLeaseApi();
    let releaseRead: () => void = () => {};
    const gate = new Promise<void>((resolve) => (releaseRead = resolve));
    const read = api.readLease.bind(api);
    api.readLease = async () => {
      await gate;
      return read();
    };
    const candidate = elector(api, 'late');
    const campaign = candidate.acquire().catch(() => 'stopped');
    await jest.advanceTimersByTimeAsync(0);
    const stopped = candidate.stop();
    releaseRead();
    await settled(stopped);
    expect(await campaign).toBe('stopped');
    expect(api.stored?.spec?.holderIdentity).toBe('');
  });

  it('resolves as stopped when stopped while leading', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    await settled(leader.acquire());
    const held = leader.holdUntilStopped();
    await leader.stop();
    await expect(held).resolves.toBe('stopped');
  });
});
