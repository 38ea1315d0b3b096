import { compareDelivery, countStates, type SourceRead } from '../../../src/diagnostics/delivery-compare.ts';

const A = 'a-grpc.example.com:10901';
const B = 'b-grpc.example.com:10901';
const C = 'c-grpc.example.com:10901';

function pod(source: string, stores: Record<string, string | null>): SourceRead {
  return { source, ok: true, stores: Object.entries(stores).map(([name, lastError]) => ({ name, lastError })) };
}

describe('compareDelivery', () => {
  const cases: { name: string; published: string[]; reads: SourceRead[]; states: Record<string, string>; matched: boolean }[] = [
    {
      name: 'every published store listed and healthy (absolute names as Thanos shows them)',
      published: [A, B],
      reads: [pod('p1', { 'a-grpc.example.com.:10901': null, 'b-grpc.example.com.:10901': '' })],
      states: { [A]: 'healthy', [B]: 'healthy' },
      matched: true,
    },
    {
      name: 'a listed store with a last error is unhealthy',
      published: [A, B],
      reads: [pod('p1', { [A]: null, [B]: 'rpc error: connection refused' })],
      states: { [A]: 'healthy', [B]: 'unhealthy' },
      matched: false,
    },
    {
      name: 'a published store Thanos does not list is unseen',
      published: [A, B],
      reads: [pod('p1', { [A]: null })],
      states: { [A]: 'healthy', [B]: 'unseen' },
      matched: false,
    },
    {
      name: 'a listed store no longer published is unpublished',
      published: [A],
      reads: [pod('p1', { [A]: null, [C]: null })],
      states: { [A]: 'healthy', [C]: 'unpublished' },
      matched: false,
    },
    {
      name: 'the worst state over the pods wins: unseen in one pod outweighs unhealthy in another',
      published: [A, B],
      reads: [pod('p1', { [A]: null, [B]: 'down' }), pod('p2', { [A]: null })],
      states: { [A]: 'healthy', [B]: 'unseen' },
      matched: false,
    },
    {
      name: 'a pod that cannot be read prevents a match but says nothing about the endpoints',
      published: [A],
      reads: [pod('p1', { [A]: null }), { source: 'p2', ok: false, error: 'connect ECONNREFUSED' }],
      states: { [A]: 'healthy' },
      matched: false,
    },
    {
      name: 'no pod answered: no endpoint state and no match',
      published: [A],
      reads: [{ source: 'service', ok: false, error: 'timeout' }],
      states: {},
      matched: false,
    },
    {
      name: 'nothing published and nothing listed is a match',
      published: [],
      reads: [pod('p1', {})],
      states: {},
      matched: true,
    },
  ];

  it.each(cases)('$name', ({ published, reads, states, matched }) => {
    const result = compareDelivery(published, reads);
    expect(Object.fromEntries(result.endpoints.map((entry) => [entry.endpoint, entry.state]))).toEqual(states);
    expect(result.matched).toBe(matched);
  });

  it('names the pods in the worst state and their last errors', () => {
    const result = compareDelivery([B], [pod('p1', { [B]: 'down' }), pod('p2', { [B]: 'refused' }), pod('p3', { [B]: null })]);
    expect(result.endpoints).toEqual([
      {
        endpoint: B,
        state: 'unhealthy',
        sources: [
          { source: 'p1', lastError: 'down' },
          { source: 'p2', lastError: 'refused' },
        ],
      },
    ]);
  });

  it('counts every state, zeros included', () => {
    const result = compareDelivery([A, B], [pod('p1', { [A]: null, [C]: null })]);
    expect(countStates(result)).toEqual({ healthy: 1, unhealthy: 0, unseen: 1, awaiting_rollout: 0, unpublished: 1 });
  });

  it('calls unseen awaiting_rollout while the rollout is pending, and leaves the other states be', () => {
    const result = compareDelivery([A, B], [pod('p1', { [A]: 'connection refused', [C]: null })], { rolloutPending: true });
    expect(countStates(result)).toEqual({ healthy: 0, unhealthy: 1, unseen: 0, awaiting_rollout: 1, unpublished: 1 });
    expect(result.matched).toBe(false);
  });
});
