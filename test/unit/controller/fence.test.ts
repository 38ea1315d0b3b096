import { jest } from '@jest/globals';
import { guardWrites, type WriteVerdict } from '../../../src/controller/fence.ts';
import { FencedError } from '../../../src/sinks/write-guard.ts';

afterEach(() => {
  jest.useRealTimers();
});

describe('guardWrites', () => {
  it('sends nothing when this replica may not write, and says why', async () => {
    const send = jest.fn(async () => 'sent');
    const guard = guardWrites(() => ({ ok: false, reason: 'not the leader' }));

    await expect(guard(send)).rejects.toThrow(new FencedError('not the leader'));
    expect(send).not.toHaveBeenCalled();
  });

  it('checks the fence at each request, not once per write', async () => {
    const verdicts: WriteVerdict[] = [
      { ok: true, validForMs: 5_000 },
      { ok: false, reason: 'lease last renewed 10000 ms ago, past the renew deadline' },
    ];
    const guard = guardWrites(() => verdicts.shift()!);

    await expect(guard(async () => 'create')).resolves.toBe('create');
    await expect(guard(async () => 'apply')).rejects.toThrow(FencedError);
  });

  it('gives a request up once the lease it was sent under may have passed to another replica', async () => {
    jest.useFakeTimers({ now: 0 });
    const guard = guardWrites(() => ({ ok: true, validForMs: 3_000 }));
    const outcome = guard(() => new Promise<string>(() => {})).catch((error: unknown) => error);

    await jest.advanceTimersByTimeAsync(2_999);
    let settled = false;
    void outcome.then(() => (settled = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(await outcome).toEqual(new FencedError('the lease ran out after 3000 ms with the request in flight'));
  });

  it('lets a request without leader election run as long as it takes', async () => {
    jest.useFakeTimers({ now: 0 });
    const guard = guardWrites(() => ({ ok: true, validForMs: Number.POSITIVE_INFINITY }));
    let answer: (value: string) => void = () => {};
    const outcome = guard(() => new Promise<string>((resolve) => (answer = resolve)));

    await jest.advanceTimersByTimeAsync(3_600_000);
    answer('applied');
    await expect(outcome).resolves.toBe('applied');
  });
});
