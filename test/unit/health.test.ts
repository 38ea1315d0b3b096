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
