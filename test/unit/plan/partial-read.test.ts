import { applyPoll, type RemovalPolicy } from '../../../src/plan/desired-set.ts';
import { applyPartialRead, isUnder, type PartialReadInput, type ZoneRead } from '../../../src/plan/partial-read.ts';

const ok = (zone: string, name: string | undefined, hosts: readonly string[]): ZoneRead => ({ zone, name, ok: true, hosts });
const failed = (zone: string, name: string | undefined): ZoneRead => ({ zone, name, ok: false });
const memory = (entries: Record<string, readonly string[]>) => new Map(Object.entries(entries));

// Two zones of one name in two accounts (split horizon), and one of its own.
const A = 'a-grpc.east.example.com';
const A2 = 'a2-grpc.east.example.com';
const B = 'b-grpc.west.example.com';
const B2 = 'b2-grpc.west.example.com';
const C = 'c-grpc.east.example.com';

const input = (overrides: Partial<PartialReadInput>): PartialReadInput => ({
  published: [],
  zones: [],
  unlistedSources: [],
  lastRead: new Map(),
  ...overrides,
});

describe('applyPartialRead', () => {
  it.each([
    {
      title: 'every zone read: the read is the union, nothing kept',
      input: input({ published: [A, B], zones: [ok('ZE', 'east.example.com', [A]), ok('ZW', 'west.example.com', [B, B2])] }),
      hosts: [A, B, B2],
      kept: [],
    },
    {
      title: 'a failed zone keeps the published hosts it last held; a healthy zone adds its new host at once',
      input: input({
        published: [A, B],
        zones: [failed('ZE', 'east.example.com'), ok('ZW', 'west.example.com', [B, B2])],
        lastRead: memory({ ZE: [A], ZW: [B] }),
      }),
      hosts: [A, B, B2],
      kept: [A],
    },
    {
      title: 'a host gone from a healthy zone is not kept (it goes through the removal rules)',
      input: input({
        published: [A, B, B2],
        zones: [failed('ZE', 'east.example.com'), ok('ZW', 'west.example.com', [B])],
        lastRead: memory({ ZE: [A], ZW: [B, B2] }),
      }),
      hosts: [A, B],
      kept: [A],
    },
    {
      title: 'after a restart (no memory) a failed zone keeps the published hosts under its name',
      input: input({
        published: [A, C, B, B2],
        zones: [failed('ZE', 'east.example.com'), ok('ZW', 'west.example.com', [B])],
      }),
      hosts: [A, B, C],
      kept: [A, C],
    },
    {
      title: 'memory beats the name: a host last seen in a healthy zone of the same name is not kept',
      input: input({
        published: [A, C],
        zones: [failed('ZE1', 'east.example.com'), ok('ZE2', 'east.example.com', [A])],
        lastRead: memory({ ZE1: [A2], ZE2: [A, C] }),
      }),
      hosts: [A],
      kept: [],
    },
    {
      title: 'a host seen in both zones of one name is kept while either fails',
      input: input({
        published: [A, C],
        zones: [failed('ZE1', 'east.example.com'), ok('ZE2', 'east.example.com', [A])],
        lastRead: memory({ ZE1: [C], ZE2: [A, C] }),
      }),
      hosts: [A, C],
      kept: [C],
    },
    {
      title: 'a zone no longer listed (untagged) keeps nothing: its hosts go missing',
      input: input({ published: [A, B], zones: [ok('ZW', 'west.example.com', [B])], lastRead: memory({ ZE: [A], ZW: [B] }) }),
      hosts: [B],
      kept: [],
    },
    {
      title: 'a source whose zones are unknown keeps every published host not read',
      input: input({ published: [A, B, C], zones: [ok('ZW', 'west.example.com', [B, B2])], unlistedSources: ['prod'] }),
      hosts: [A, B, B2, C],
      kept: [A, C],
    },
    {
      title: 'a failed zone of unknown name and no memory keeps every published host not read',
      input: input({ published: [A, B], zones: [failed('ZX', undefined), ok('ZW', 'west.example.com', [B])] }),
      hosts: [A, B],
      kept: [A],
    },
    {
      title: 'a failed zone of unknown name but with memory keeps only its own hosts',
      input: input({
        published: [A, B, C],
        zones: [failed('ZX', undefined), ok('ZW', 'west.example.com', [B])],
        lastRead: memory({ ZX: [A] }),
      }),
      hosts: [A, B],
      kept: [A],
    },
    {
      title: 'healthy zones that hold nothing make an empty read, whatever the failed zones keep',
      input: input({ published: [A, B], zones: [failed('ZE', 'east.example.com'), ok('ZW', 'west.example.com', [])] }),
      hosts: [],
      kept: [A],
    },
    {
      title: 'no zone at all (nothing matches) is an empty read',
      input: input({ published: [A] }),
      hosts: [],
      kept: [],
    },
    {
      title: 'a kept host that was never published is not added',
      input: input({
        published: [B],
        zones: [failed('ZE', 'east.example.com'), ok('ZW', 'west.example.com', [B])],
        lastRead: memory({ ZE: [A] }),
      }),
      hosts: [B],
      kept: [],
    },
  ])('$title', ({ input, hosts, kept }) => {
    const verdict = applyPartialRead(input);
    expect(verdict.kind).toBe('read');
    if (verdict.kind !== 'read') return;
    expect(verdict.hosts).toEqual(hosts);
    expect(verdict.kept).toEqual(kept);
  });

  it.each([
    { title: 'every zone failed', input: input({ published: [A], zones: [failed('ZE', 'east.example.com')] }) },
    { title: 'the only source could not list its zones', input: input({ published: [A], unlistedSources: ['prod'] }) },
  ])('reads nothing when $title: the poll is a failed one', ({ input }) => {
    expect(applyPartialRead(input)).toEqual({ kind: 'nothing-read' });
  });

  it('remembers zones read in full, keeps the memory of failed ones and forgets zones no longer listed', () => {
    const verdict = applyPartialRead(
      input({
        zones: [ok('ZW', 'west.example.com', [B2]), failed('ZE', 'east.example.com')],
        lastRead: memory({ ZE: [A], ZW: [B], ZGONE: [C] }),
      }),
    );
    expect(verdict.kind === 'read' && Object.fromEntries(verdict.lastRead)).toEqual({ ZW: [B2], ZE: [A] });
    expect(verdict.kind === 'read' && verdict.failedZones).toEqual(['ZE']);
  });

  it('with the removal rules: a failed zone never loses a host, a healthy one loses its gone host after confirmation', () => {
    const policy: RemovalPolicy = { confirmPolls: 2, maxShare: 1, massConfirmPolls: 2 };
    let state = applyPoll(undefined, [A, B, B2], policy).state;
    let lastRead: ReadonlyMap<string, readonly string[]> = memory({ ZE: [A], ZW: [B, B2] });
    for (let poll = 0; poll < 5; poll++) {
      const verdict = applyPartialRead({
        published: state.hosts,
        zones: [failed('ZE', 'east.example.com'), ok('ZW', 'west.example.com', [B])],
        unlistedSources: [],
        lastRead,
      });
      if (verdict.kind !== 'read') throw new Error('expected a read');
      lastRead = verdict.lastRead;
      state = applyPoll(state, verdict.hosts, policy).state;
    }
    expect(state.hosts).toEqual([A, B]);
  });
});

describe('isUnder', () => {
  it.each([
    ['a-grpc.east.example.com', 'east.example.com', true],
    ['A-GRPC.East.Example.com.', 'east.example.com.', true],
    ['east.example.com', 'east.example.com', true],
    ['a-grpc.beast.example.com', 'east.example.com', false],
    ['a-grpc.west.example.com', 'east.example.com', false],
  ])('%s under %s: %s', (host, zone, expected) => {
    expect(isUnder(host, zone)).toBe(expected);
  });
});
