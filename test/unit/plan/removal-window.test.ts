import { ageWindow, judgeRemoval, MAX_WINDOW_ENTRIES, recordRemovals, type RemovalWindow } from '../../../src/plan/removal-window.ts';

describe('judgeRemoval', () => {
  it.each<{ title: string; window: RemovalWindow; published: number; confirmed: number; lost: number; reference: number; mass: boolean }>([
    {
      title: 'nothing confirmed is never mass',
      window: [{ pollsAgo: 1, before: 10, removed: 9 }],
      published: 1,
      confirmed: 0,
      lost: 0,
      reference: 10,
      mass: false,
    },
    { title: 'an empty window judges the published set', window: [], published: 10, confirmed: 5, lost: 5, reference: 10, mass: false },
    { title: 'over the share of the published set', window: [], published: 10, confirmed: 6, lost: 6, reference: 10, mass: true },
    {
      title: 'the window removals count against the set before them (45 then 15 of 100)',
      window: [{ pollsAgo: 1, before: 100, removed: 45 }],
      published: 55,
      confirmed: 15,
      lost: 60,
      reference: 100,
      mass: true,
    },
    {
      title: 'a second part that keeps the total at the share passes (45 then 5 of 100)',
      window: [{ pollsAgo: 1, before: 100, removed: 45 }],
      published: 55,
      confirmed: 5,
      lost: 50,
      reference: 100,
      mass: false,
    },
    {
      title: 'a set grown since is the reference',
      window: [{ pollsAgo: 1, before: 10, removed: 4 }],
      published: 20,
      confirmed: 5,
      lost: 9,
      reference: 20,
      mass: false,
    },
    { title: 'nothing published', window: [], published: 0, confirmed: 1, lost: 1, reference: 0, mass: false },
  ])('$title', ({ window, published, confirmed, lost, reference, mass }) => {
    expect(judgeRemoval(window, published, confirmed, 0.5)).toMatchObject({ lost, reference, mass });
  });
});

describe('the window over polls', () => {
  it.each<{ title: string; window: RemovalWindow; polls: number; aged: RemovalWindow }>([
    { title: 'empty stays empty', window: [], polls: 10, aged: [] },
    {
      title: 'entries get a poll older',
      window: [{ pollsAgo: 0, before: 10, removed: 2 }],
      polls: 10,
      aged: [{ pollsAgo: 1, before: 10, removed: 2 }],
    },
    {
      title: 'entries as old as the window leave it',
      window: [
        { pollsAgo: 2, before: 8, removed: 1 },
        { pollsAgo: 9, before: 10, removed: 2 },
      ],
      polls: 10,
      aged: [{ pollsAgo: 3, before: 8, removed: 1 }],
    },
  ])('$title', ({ window, polls, aged }) => {
    expect(ageWindow(window, polls)).toEqual(aged);
  });

  it('records only polls that removed something, newest first', () => {
    const window = recordRemovals(recordRemovals([], 10, 2), 8, 0);
    expect(window).toEqual([{ pollsAgo: 0, before: 10, removed: 2 }]);
    expect(recordRemovals(ageWindow(window, 10), 8, 3)).toEqual([
      { pollsAgo: 0, before: 8, removed: 3 },
      { pollsAgo: 1, before: 10, removed: 2 },
    ]);
  });

  it('stays bounded by merging the oldest entries into one that is never more lenient', () => {
    let window: RemovalWindow = [];
    for (let poll = 0; poll < 100; poll++) window = recordRemovals(ageWindow(window, 1_000), 1_000 - poll, 1);
    expect(window).toHaveLength(MAX_WINDOW_ENTRIES);
    expect(window.reduce((sum, entry) => sum + entry.removed, 0)).toBe(100);
    expect(Math.max(...window.map((entry) => entry.before))).toBe(1_000);
    expect(window.at(-1)?.pollsAgo).toBe(MAX_WINDOW_ENTRIES - 1);
  });
});
