import { applyPoll, type RemovalPolicy } from '../../../src/plan/desired-set.ts';
import {
  hostHash,
  MAX_PENDING_HOSTS,
  parsePending,
  samePendingState,
  serialisePending,
  type PendingState,
} from '../../../src/plan/pending-annotation.ts';

const POLICY: RemovalPolicy = { confirmPolls: 2, maxShare: 0.5, massConfirmPolls: 10 };

describe('the removal state carried in the ConfigMap annotation', () => {
  it('round-trips the missing counts and the window', () => {
    const state: PendingState = {
      missing: new Map([
        ['b', 2],
        ['a', 1],
        ['c', 2],
      ]),
      window: [{ pollsAgo: 1, before: 100, removed: 45 }],
    };
    const text = serialisePending(state);
    expect(text).toBe(
      `{"v":2,"missing":{"1":"${hostHash('a')}","2":"${[hostHash('b'), hostHash('c')].sort().join('')}"},"window":[[1,100,45]]}`,
    );
    expect(parsePending(text, ['a', 'b', 'c', 'd'])).toEqual(state);
  });

  it('is `{}` with nothing pending, so the annotation is left out', () => {
    expect(serialisePending({ missing: new Map(), window: [] })).toBe('{}');
  });

  it.each([
    ['no annotation', undefined],
    ['not JSON', '{a:1'],
    ['not an object', '[1]'],
    ['null', 'null'],
    ['counts that are no positive whole numbers (older format)', '{"a":0,"b":-1,"c":1.5,"d":"2"}'],
    ['hosts no longer published (older format)', '{"gone":1}'],
    ['hashes of hosts no longer published', `{"v":2,"missing":{"1":"${hostHash('gone')}"}}`],
    [
      'bad counts and window entries',
      `{"v":2,"missing":{"0":"${hostHash('a')}","x":"${hostHash('b')}","2":5},"window":[[0,10],[-1,10,2],[0,10,0],"x"]}`,
    ],
  ])('reads %s as nothing pending', (_title, text) => {
    expect(parsePending(text, ['a', 'b', 'c', 'd'])).toEqual({ missing: new Map(), window: [] });
  });

  it('still reads the older `{"host":polls}` annotation, so an upgrade during a hold keeps its counts', () => {
    expect(parsePending('{"a":1,"b":3}', ['a', 'b', 'c'])).toEqual({
      missing: new Map([
        ['a', 1],
        ['b', 3],
      ]),
      window: [],
    });
  });

  it('takes 8 bytes per held host: 6,000 held of 10,000 long names fit with room to spare', () => {
    const hosts = Array.from({ length: 10_000 }, (_, i) => `${'x'.repeat(40)}-${String(i).padStart(5, '0')}-grpc.example.com`);
    const missing = new Map(hosts.slice(0, 6_000).map((host) => [host, 3] as const));
    const text = serialisePending({ missing, window: [{ pollsAgo: 0, before: 10_000, removed: 1 }] });
    expect(text.length).toBeLessThan(6_000 * 8 + 100);
    expect(parsePending(text, hosts).missing).toEqual(missing);
  });

  it(`keeps at most ${MAX_PENDING_HOSTS} hosts, those closest to removal`, () => {
    const hosts = Array.from({ length: MAX_PENDING_HOSTS + 10 }, (_, i) => `h${i}`);
    const missing = new Map(hosts.map((host, i) => [host, i < 10 ? 1 : 2] as const));
    const kept = parsePending(serialisePending({ missing, window: [] }), hosts).missing;
    expect(kept.size).toBe(MAX_PENDING_HOSTS);
    expect([...kept.values()].every((polls) => polls === 2)).toBe(true);
  });

  it('lets run-once runs confirm a removal and hold a loss split over runs', () => {
    const hosts = Array.from({ length: 10 }, (_, i) => `h${i}`);
    // Each run starts from what the ConfigMap carries: the published hosts and this annotation.
    let published = hosts;
    let annotation: string | undefined;
    const run = (read: string[]) => {
      const verdict = applyPoll({ hosts: published, ...parsePending(annotation, published) }, read, POLICY);
      published = [...verdict.state.hosts];
      annotation = serialisePending({ missing: verdict.state.missing, window: verdict.state.window ?? [] });
      return published.length;
    };
    expect([hosts.slice(4), hosts.slice(4), hosts.slice(6), hosts.slice(6), hosts.slice(6)].map(run)).toEqual([10, 6, 6, 6, 6]);
  });

  it.each([
    ['only the window ages', '{"v":2,"window":[[0,10,4]]}', '{"v":2,"window":[[3,10,4]]}', true],
    [
      'missing counts and ages',
      '{"v":2,"missing":{"1":"abcdefgh"},"window":[[1,10,4]]}',
      '{"v":2,"missing":{"1":"abcdefgh"},"window":[[2,10,4]]}',
      true,
    ],
    ['an entry aged out', '{"v":2,"window":[[8,10,4]]}', '{}', false],
    ['a new removal', '{"v":2,"window":[[1,10,4]]}', '{"v":2,"window":[[0,6,1],[2,10,4]]}', false],
    ['a missing count', '{"v":2,"missing":{"1":"abcdefgh"}}', '{"v":2,"missing":{"2":"abcdefgh"}}', false],
    ['nothing on either side', undefined, '{}', true],
    ['an unreadable annotation', 'not json', '{}', false],
  ])('judges the published and the next state alike when %s: %s', (_case, published, next, same) => {
    // Ageing alone is not worth a write each poll; a restart that reads an entry as younger than it is only holds longer.
    expect(samePendingState(published, next)).toBe(same);
  });
});
