import { CONFIGMAP_MAX_BYTES, configMapSizeWith, type ConfigMapData } from '../../../src/plan/size-guard.ts';
import { NO_REVERTS, observeRevert, trackReverts, type RevertObservation, type RevertState } from '../../../src/plan/revert-guard.ts';
import { restartTiming } from '../../../src/plan/storm-guard.ts';

describe('restartTiming', () => {
  it.each([
    { title: 'never restarted', last: undefined, now: 5, min: 300_000, timing: { kind: 'now' } },
    { title: 'inside the window', last: 1_000, now: 61_000, min: 300_000, timing: { kind: 'defer', waitMs: 240_000 } },
    { title: 'at the window end', last: 1_000, now: 301_000, min: 300_000, timing: { kind: 'now' } },
    { title: 'past the window', last: 1_000, now: 900_000, min: 300_000, timing: { kind: 'now' } },
    { title: 'guard off', last: 1_000, now: 1_000, min: 0, timing: { kind: 'now' } },
  ])('$title', ({ last, now, min, timing }) => {
    expect(restartTiming(last, now, min)).toEqual(timing);
  });
});

describe('configMapSizeWith', () => {
  it.each<{ title: string; existing: ConfigMapData | undefined; size: number }>([
    { title: 'a new object holds only our key', existing: undefined, size: 'k'.length + 'abc'.length },
    { title: 'our key replaced, others counted', existing: { data: { k: 'old text', other: 'xy' } }, size: 1 + 3 + 5 + 2 },
    {
      title: 'binary data counted decoded',
      existing: { binaryData: { bin: Buffer.from('12345').toString('base64') } },
      size: 1 + 3 + 3 + 5,
    },
    { title: 'multi-byte characters by bytes', existing: { data: { é: 'ü' } }, size: 1 + 3 + 2 + 2 },
  ])('$title', ({ existing, size }) => {
    expect(configMapSizeWith(existing, 'k', 'abc')).toBe(size);
  });

  it('puts about 20k file_sd endpoints under the 1 MiB limit', () => {
    const line = (i: number) => `  - cluster-${String(i).padStart(5, '0')}-grpc.internal.example.com:10901\n`;
    const text = (n: number) => `- targets:\n${Array.from({ length: n }, (_, i) => line(i)).join('')}`;
    expect(configMapSizeWith(undefined, 'servicediscovery.yml', text(20_000))).toBeLessThan(CONFIGMAP_MAX_BYTES);
    expect(configMapSizeWith(undefined, 'servicediscovery.yml', text(25_000))).toBeGreaterThan(CONFIGMAP_MAX_BYTES);
  });
});

describe('revert guard', () => {
  const policy = { maxReverts: 3, windowMs: 3_600_000 };
  const replay = (steps: readonly [RevertObservation, number][]): RevertState =>
    steps.reduce((state, [observation, at]) => trackReverts(state, observation, at, policy), NO_REVERTS);

  it.each<{ title: string; steps: [RevertObservation, number][]; stopped: boolean; reverts: number }>([
    {
      title: 'no reverts',
      steps: [
        ['other', 0],
        ['in place', 1],
      ],
      stopped: false,
      reverts: 0,
    },
    {
      title: 'two reverts keep patching',
      steps: [
        ['reverted', 0],
        ['reverted', 10],
      ],
      stopped: false,
      reverts: 2,
    },
    {
      title: 'the third revert within the hour stops the fight',
      steps: [
        ['reverted', 0],
        ['reverted', 10],
        ['reverted', 20],
      ],
      stopped: true,
      reverts: 3,
    },
    {
      // A GitOps tool slower than the poll: each patch-back is seen in place before the next revert.
      title: 'our patch-back seen in place between reverts still counts them',
      steps: [
        ['reverted', 0],
        ['in place', 5],
        ['reverted', 10],
        ['in place', 15],
        ['reverted', 20],
      ],
      stopped: true,
      reverts: 3,
    },
    {
      title: 'reverts spread over more than the window never stop it',
      steps: [
        ['reverted', 0],
        ['reverted', 1_800_000],
        ['reverted', 3_600_001],
      ],
      stopped: false,
      reverts: 2,
    },
    {
      title: 'a stopped fight stays stopped as reverts age out',
      steps: [
        ['reverted', 0],
        ['reverted', 1],
        ['reverted', 2],
        ['other', 9_000_000],
      ],
      stopped: true,
      reverts: 0,
    },
    {
      title: 'our hash seen in place again ends the stop',
      steps: [
        ['reverted', 0],
        ['reverted', 1],
        ['reverted', 2],
        ['in place', 3],
      ],
      stopped: false,
      reverts: 0,
    },
  ])('$title', ({ steps, stopped, reverts }) => {
    const state = replay(steps);
    expect(state.stopped).toBe(stopped);
    expect(state.reverts).toHaveLength(reverts);
  });

  it.each<[string | undefined, string, string | undefined, RevertObservation]>([
    [undefined, 'h1', undefined, 'other'],
    ['h1', 'h1', 'h1', 'in place'],
    ['h1', 'h1', undefined, 'reverted'],
    ['h1', 'h1', 'h0', 'reverted'],
    ['h1', 'h2', 'h1', 'other'],
  ])('last patched %s, wanted %s, on the Deployment %s: %s', (lastPatched, wanted, onDeployment, observation) => {
    expect(observeRevert(lastPatched, wanted, onDeployment)).toBe(observation);
  });
});
