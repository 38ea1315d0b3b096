import { applyPoll, type DesiredState, type RemovalPolicy } from '../../../src/plan/desired-set.ts';

const POLICY: RemovalPolicy = { confirmPolls: 2, maxShare: 0.5, massConfirmPolls: 4 };

/** Feeds reads one after another from `start`, returning every verdict. */
function run(reads: readonly (readonly string[])[], start?: DesiredState, policy = POLICY) {
  const verdicts = [];
  let state = start;
  for (const read of reads) {
    const verdict = applyPoll(state, read, policy);
    verdicts.push(verdict);
    state = verdict.state;
  }
  return verdicts;
}

const hostsAfter = (reads: readonly (readonly string[])[], start?: DesiredState, policy = POLICY) =>
  run(reads, start, policy).map((verdict) => verdict.state.hosts);

const seeded = (hosts: readonly string[]): DesiredState => ({ hosts, missing: new Map() });

describe('applyPoll', () => {
  it.each([
    { title: 'first read is taken whole', reads: [['b', 'a']], hosts: [['a', 'b']] },
    { title: 'additions are immediate', reads: [['a'], ['a', 'b']], hosts: [['a'], ['a', 'b']] },
    {
      title: 'a removal waits for a second missing poll',
      reads: [
        ['a', 'b', 'c'],
        ['a', 'b'],
        ['a', 'b'],
      ],
      hosts: [
        ['a', 'b', 'c'],
        ['a', 'b', 'c'],
        ['a', 'b'],
      ],
    },
    {
      title: 'a host back before confirmation resets its count',
      reads: [
        ['a', 'b', 'c'],
        ['a', 'b'],
        ['a', 'b', 'c'],
        ['a', 'b'],
      ],
      hosts: [
        ['a', 'b', 'c'],
        ['a', 'b', 'c'],
        ['a', 'b', 'c'],
        ['a', 'b', 'c'],
      ],
    },
    {
      title: 'a flapping host is never removed',
      reads: [
        ['a', 'b', 'c'],
        ['a', 'b'],
        ['a', 'b', 'c'],
        ['a', 'b'],
        ['a', 'b', 'c'],
      ],
      hosts: Array(5).fill(['a', 'b', 'c']),
    },
    { title: 'an empty first read publishes nothing', reads: [[]], hosts: [[]] },
    {
      title: 'an empty read keeps everything',
      reads: [['a', 'b'], [], [], []],
      hosts: [
        ['a', 'b'],
        ['a', 'b'],
        ['a', 'b'],
        ['a', 'b'],
      ],
    },
    {
      title: 'an empty read is no confirming poll',
      reads: [['a', 'b', 'c'], ['a', 'b'], [], ['a', 'b']],
      hosts: [
        ['a', 'b', 'c'],
        ['a', 'b', 'c'],
        ['a', 'b', 'c'],
        ['a', 'b'],
      ],
    },
    {
      title: 'exactly half may go after confirmation',
      reads: [
        ['a', 'b', 'c', 'd'],
        ['a', 'b'],
        ['a', 'b'],
      ],
      hosts: [
        ['a', 'b', 'c', 'd'],
        ['a', 'b', 'c', 'd'],
        ['a', 'b'],
      ],
    },
    {
      title: 'more than half is held until the mass confirmation',
      reads: [['a', 'b', 'c', 'd'], ['a'], ['a'], ['a'], ['a']],
      hosts: [['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd'], ['a']],
    },
    // The share is of the published set, which holds the newcomers from the first read that showed them.
    {
      title: 'a set replaced by as many new hosts is half added, half removed',
      reads: [
        ['a', 'b'],
        ['c', 'd'],
        ['c', 'd'],
      ],
      hosts: [
        ['a', 'b'],
        ['a', 'b', 'c', 'd'],
        ['c', 'd'],
      ],
    },
    {
      title: 'a removal larger than the share of the grown set is held',
      reads: [['a', 'b', 'c'], ['d'], ['d'], ['d'], ['d']],
      hosts: [['a', 'b', 'c'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd'], ['d']],
    },
  ])('$title', ({ reads, hosts }) => {
    expect(hostsAfter(reads)).toEqual(hosts);
  });

  // Ten hosts h0..h9; `from(n)` is hn..h9. A loss is judged against the set published before it began.
  const all = Array.from({ length: 10 }, (_, i) => `h${i}`);
  const from = (n: number) => all.slice(n);
  it.each([
    {
      title: 'a loss split over two polls is held once together it passes the share (40% then 20%)',
      reads: [all, from(4), from(4), from(6), from(6), from(6), from(6)],
      sizes: [10, 10, 6, 6, 6, 6, 4],
    },
    {
      title: 'a loss split in three is held at the part that passes the share (30%, 20%, 10%)',
      reads: [all, from(3), from(3), from(5), from(6), from(6), from(6)],
      sizes: [10, 10, 7, 7, 5, 5, 4],
    },
    {
      title: 'a removal after the window has passed is judged against the set then published',
      reads: [all, from(4), from(4), from(4), from(4), from(4), from(4), from(6), from(6)],
      sizes: [10, 10, 6, 6, 6, 6, 6, 6, 4],
    },
    {
      title: 'hosts added meanwhile do not hide the loss of the hosts published before it',
      reads: [all, from(4), from(4), [...from(6), 'n1', 'n2', 'n3', 'n4'], [...from(6), 'n1', 'n2', 'n3', 'n4']],
      sizes: [10, 10, 6, 10, 10],
    },
    {
      title: 'a set grown past the one before the loss is the one the loss is judged against',
      reads: [all, from(4), from(4), [...from(6), 'n1', 'n2', 'n3', 'n4', 'n5', 'n6'], [...from(6), 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']],
      sizes: [10, 10, 6, 12, 10],
    },
  ])('$title', ({ reads, sizes }) => {
    expect(hostsAfter(reads).map((hosts) => hosts.length)).toEqual(sizes);
  });

  it('starts from the published set, so a bad first read after a restart is not taken whole', () => {
    expect(hostsAfter([['a'], ['a']], seeded(['a', 'b', 'c']))).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
    ]);
    expect(hostsAfter([['a', 'b', 'c']], seeded(['a', 'b', 'c', 'd']))).toEqual([['a', 'b', 'c', 'd']]);
  });

  it('removes at once when one confirming poll is asked for and the share allows it', () => {
    expect(
      hostsAfter(
        [
          ['a', 'b', 'c'],
          ['a', 'b'],
        ],
        undefined,
        { confirmPolls: 1, maxShare: 0.5, massConfirmPolls: 1 },
      ),
    ).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b'],
    ]);
  });

  it('lets any share go when maxShare is 1', () => {
    expect(hostsAfter([['a', 'b'], ['c'], ['c']], undefined, { confirmPolls: 2, maxShare: 1, massConfirmPolls: 9 })).toEqual([
      ['a', 'b'],
      ['a', 'b', 'c'],
      ['c'],
    ]);
  });

  it('reports what changed, what is pending and a held mass removal', () => {
    const verdicts = run([
      ['a', 'b', 'c', 'd'],
      ['a', 'e'],
      ['a', 'e'],
      ['a', 'e'],
      ['a', 'e'],
    ]);
    expect(verdicts.map(({ added, removed, pending, emptyRead }) => ({ added, removed, pending, emptyRead }))).toEqual([
      { added: ['a', 'b', 'c', 'd'], removed: [], pending: [], emptyRead: false },
      { added: ['e'], removed: [], pending: ['b', 'c', 'd'], emptyRead: false },
      { added: [], removed: [], pending: ['b', 'c', 'd'], emptyRead: false },
      { added: [], removed: [], pending: ['b', 'c', 'd'], emptyRead: false },
      { added: [], removed: ['b', 'c', 'd'], pending: [], emptyRead: false },
    ]);
    expect(verdicts.map((verdict) => verdict.massRemovalHeld)).toEqual([
      undefined,
      undefined,
      { hosts: 3, lost: 3, reference: 5, share: 0.6 },
      { hosts: 3, lost: 3, reference: 5, share: 0.6 },
      undefined,
    ]);
  });

  it('flags an empty read and keeps the pending hosts pending', () => {
    const [, , empty] = run([['a', 'b', 'c'], ['a', 'b'], []]);
    expect(empty).toMatchObject({ emptyRead: true, added: [], removed: [], pending: ['c'] });
  });
});
