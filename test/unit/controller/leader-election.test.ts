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
    if (body.metadata?.resourceVersion !== this.stored?.metadata?.resourceVersion) throw new KubeApiError(409, '');
    return this.save(body);
  }
  private save(body: Lease): Lease {
    this.stored = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.version) } };
    return this.stored;
  }
}

function elector(api: FakeLeaseApi, identity: string, clock?: { now: number }) {
  return new LeaderElector({
    api,
    namespace: 'monitoring',
    name: 'tsd',
    identity,
    timings: { leaseDurationMs: 300, renewDeadlineMs: 150, retryPeriodMs: 10 },
    logger: createSilentLogger(),
    metrics: createMetrics(),
    ...(clock ? { monotonicNow: () => clock.now } : {}),
  });
}

describe('LeaderElector', () => {
  it('takes a free lease, and a second candidate waits while it is renewed', async () => {
    const api = new FakeLeaseApi();
    const clock = { now: NOW };
    const first = elector(api, 'a', clock);
    await first.acquire();
    expect(first.isLeader()).toBe(true);
    expect(api.stored?.spec?.holderIdentity).toBe('a');

    const second = elector(api, 'b', clock);
    let secondWon = false;
    const campaign = second.acquire().then(
      () => (secondWon = true),
      () => undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(secondWon).toBe(false);
    await second.stop();
    await campaign;
    await first.stop();
  });

  it('hands the lease over on stop, so a standby takes it without waiting for expiry', async () => {
    const api = new FakeLeaseApi();
    const clock = { now: NOW };
    const first = elector(api, 'a', clock);
    await first.acquire();
    await first.stop();
    expect(api.stored?.spec?.holderIdentity).toBe('');

    const second = elector(api, 'b', clock);
    await second.acquire();
    expect(api.stored?.spec?.holderIdentity).toBe('b');
    expect(api.stored?.spec?.leaseTransitions).toBe(1);
    await second.stop();
  });

  it('takes over a lease of a vanished leader once it has stayed unchanged past its duration', async () => {
    const api = new FakeLeaseApi();
    const clock = { now: 0 };
    await elector(api, 'gone', clock).acquire();
    const next = elector(api, 'b', clock);
    let won = false;
    const campaign = next.acquire().then(() => (won = true));
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(won).toBe(false);
    // A Lease counts whole seconds: the 300 ms lease is written as 1 s.
    clock.now += 1_001;
    await campaign;
    expect(api.stored?.spec?.holderIdentity).toBe('b');
    await next.stop();
  });

  it('fences writes once the last renewal was sent a renew deadline ago, before its loop notices anything', async () => {
    const api = new FakeLeaseApi();
    const clock = { now: 1_000 };
    const leader = elector(api, 'a', clock);
    expect(leader.mayWrite()).toEqual({ ok: false, reason: 'not the leader' });
    await leader.acquire();
    expect(leader.mayWrite()).toEqual({ ok: true });
    clock.now += 149;
    expect(leader.mayWrite()).toEqual({ ok: true });
    // Frozen (SIGSTOP) past the renew deadline: isLeader() still says yes, the fence says no.
    clock.now += 1;
    expect(leader.isLeader()).toBe(true);
    expect(leader.mayWrite()).toEqual({ ok: false, reason: 'lease last renewed 150 ms ago, past the renew deadline' });
    await leader.stop();
    expect(leader.mayWrite().ok).toBe(false);
  });

  it('steps down once renewals fail past the renew deadline', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    await leader.acquire();
    api.failing = true;
    await expect(leader.holdUntilStopped()).resolves.toBe('lost');
    expect(leader.isLeader()).toBe(false);
  });

  it('steps down within the renew deadline even when a renewal request hangs', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    await leader.acquire();
    api.hanging = true;
    const started = performance.now();
    await expect(leader.holdUntilStopped()).resolves.toBe('lost');
    // Deadline 150 ms plus one retry period: it must not wait for the hung request.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(leader.isLeader()).toBe(false);
  });

  it('steps down at once when another replica holds the lease', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a');
    await leader.acquire();
    api.stored = { ...api.stored!, spec: { ...api.stored!.spec, holderIdentity: 'usurper' } };
    await expect(leader.holdUntilStopped()).resolves.toBe('lost');
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
    await new Promise((resolve) => setTimeout(resolve, 10));
    const stopped = candidate.stop();
    releaseRead();
    await stopped;
    expect(await campaign).toBe('stopped');
    expect(api.stored?.spec?.holderIdentity).toBe('');
  });

  it('resolves as stopped when stopped while leading', async () => {
    const api = new FakeLeaseApi();
    const leader = elector(api, 'a', { now: NOW });
    await leader.acquire();
    const held = leader.holdUntilStopped();
    await leader.stop();
    await expect(held).resolves.toBe('stopped');
  });
});
