import { ApiException, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { LeaderElector, decideLease } from '../../../src/controller/leader-election.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');

function lease(holder: string | undefined, renewedSecondsAgo: number, durationSeconds = 15): V1Lease {
  return {
    metadata: { name: 'tsd', resourceVersion: '1' },
    spec: { holderIdentity: holder, renewTime: new V1MicroTime(NOW - renewedSecondsAgo * 1000), leaseDurationSeconds: durationSeconds },
  };
}

describe('decideLease', () => {
  it.each([
    { name: 'no lease yet', lease: undefined, expected: { kind: 'take', transition: false } },
    { name: 'a released lease', lease: lease('', 1), expected: { kind: 'take', transition: true } },
    { name: 'our own lease', lease: lease('me', 100), expected: { kind: 'renew' } },
    { name: 'a live lease of another', lease: lease('other', 5), expected: { kind: 'wait', holder: 'other' } },
    { name: 'a lease of another renewed exactly at expiry', lease: lease('other', 15), expected: { kind: 'wait', holder: 'other' } },
    { name: 'an expired lease of another', lease: lease('other', 16), expected: { kind: 'take', transition: true } },
  ])('$name', ({ lease: current, expected }) => {
    expect(decideLease(current, 'me', NOW)).toEqual(expected);
  });
});

/** A Lease store with the API server's optimistic concurrency: a replace must carry the current resourceVersion. */
class FakeLeaseApi {
  stored: V1Lease | undefined;
  failing = false;
  private version = 0;

  async readNamespacedLease(): Promise<V1Lease> {
    if (this.failing) throw new ApiException(503, 'unavailable', {}, {});
    if (!this.stored) throw new ApiException(404, 'not found', {}, {});
    return structuredClone(this.stored);
  }
  async createNamespacedLease({ body }: { body: V1Lease }): Promise<V1Lease> {
    if (this.stored) throw new ApiException(409, 'exists', {}, {});
    return this.save(body);
  }
  async replaceNamespacedLease({ body }: { body: V1Lease }): Promise<V1Lease> {
    if (this.failing) throw new ApiException(503, 'unavailable', {}, {});
    if (body.metadata?.resourceVersion !== this.stored?.metadata?.resourceVersion) throw new ApiException(409, 'conflict', {}, {});
    return this.save(body);
  }
  private save(body: V1Lease): V1Lease {
    this.stored = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.version) } };
    return this.stored;
  }
}

function elector(api: FakeLeaseApi, identity: string, clock: { now: number }) {
  return new LeaderElector({
    coordination: api as never,
    namespace: 'monitoring',
    name: 'tsd',
    identity,
    timings: { leaseDurationMs: 300, renewDeadlineMs: 150, retryPeriodMs: 10 },
    logger: createSilentLogger(),
    metrics: createMetrics(),
    now: () => clock.now,
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
    const campaign = second.acquire().then(() => (secondWon = true), () => undefined);
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

  it('takes over an expired lease of a vanished leader', async () => {
    const api = new FakeLeaseApi();
    const clock = { now: NOW };
    await elector(api, 'gone', clock).acquire();
    // A Lease counts whole seconds: the 300 ms lease is written as 1 s.
    clock.now += 1_001;
    const next = elector(api, 'b', clock);
    await next.acquire();
    expect(api.stored?.spec?.holderIdentity).toBe('b');
    await next.stop();
  });

  it('reports leadership lost once renewals fail past the renew deadline', async () => {
    const api = new FakeLeaseApi();
    const clock = { now: NOW };
    const leader = elector(api, 'a', clock);
    await leader.acquire();
    api.failing = true;
    const held = leader.holdUntilStopped();
    const ticker = setInterval(() => (clock.now += 50), 10);
    await expect(held).resolves.toBe('lost');
    clearInterval(ticker);
    expect(leader.isLeader()).toBe(false);
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
