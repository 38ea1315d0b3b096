import { jest } from '@jest/globals';
import { Heartbeat, allOf } from '../../src/health.ts';

describe('Heartbeat', () => {
  it('is healthy while beats arrive within the allowed silence, and says how long it has been silent', () => {
    let now = 1_000_000;
    const heartbeat = new Heartbeat(60_000, () => now);
    expect(heartbeat.check()).toEqual({ ok: true });
    now += 60_000;
    expect(heartbeat.check()).toEqual({ ok: true });
    now += 1_000;
    expect(heartbeat.check()).toEqual({ ok: false, reason: 'no poll finished for 61s' });
    heartbeat.beat();
    expect(heartbeat.check()).toEqual({ ok: true });
  });

  it('measures silence on the monotonic clock, so a wall-clock step (NTP) neither fails nor hides it', () => {
    jest.useFakeTimers({ now: Date.parse('2026-12-04T12:00:00Z') });
    try {
      const heartbeat = new Heartbeat(60_000);
      jest.setSystemTime(Date.now() + 3_600_000);
      expect(heartbeat.check()).toEqual({ ok: true });
      jest.setSystemTime(Date.now() - 7_200_000);
      jest.advanceTimersByTime(61_000);
      expect(heartbeat.check()).toEqual({ ok: false, reason: 'no poll finished for 61s' });
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('allOf', () => {
  it.each([
    { results: [], expected: { ok: true } },
    { results: [{ ok: true }, { ok: true }], expected: { ok: true } },
    { results: [{ ok: true }, { ok: false, reason: 'a' }, { ok: false, reason: 'b' }], expected: { ok: false, reason: 'a' } },
  ] as const)('$results -> $expected', ({ results, expected }) => {
    expect(allOf(results.map((result) => () => result))()).toEqual(expected);
  });
});
