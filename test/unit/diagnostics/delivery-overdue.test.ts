import { compareDelivery, type SourceRead } from '../../../src/diagnostics/delivery-compare.ts';
import { describeProblems, trackProblems } from '../../../src/diagnostics/delivery-overdue.ts';

const A = 'a-grpc.example.com:10901';
const B = 'b-grpc.example.com:10901';

function seen(stores: Record<string, string | null>): SourceRead[] {
  return [{ source: 'pod/q-1', ok: true, stores: Object.entries(stores).map(([name, lastError]) => ({ name, lastError })) }];
}

describe('trackProblems', () => {
  const AFTER = 60_000;

  it('starts a problem when first seen and makes it overdue only after the threshold', () => {
    const first = trackProblems(new Map(), compareDelivery([A, B], seen({ [A]: null })), 1_000, AFTER);
    expect([...first.since]).toEqual([[B, 1_000]]);
    expect(first.overdue).toEqual([]);
    const early = trackProblems(first.since, compareDelivery([A, B], seen({ [A]: null })), 60_999, AFTER);
    expect(early.overdue).toEqual([]);
    const late = trackProblems(early.since, compareDelivery([A, B], seen({ [A]: null })), 61_000, AFTER);
    expect(late.overdue.map((problem) => [problem.entry.endpoint, problem.since])).toEqual([[B, 1_000]]);
  });

  it('keeps the start while an endpoint moves between unseen and unhealthy', () => {
    const unseen = trackProblems(new Map(), compareDelivery([B], seen({})), 0, AFTER);
    const unhealthy = trackProblems(unseen.since, compareDelivery([B], seen({ [B]: 'down' })), 70_000, AFTER);
    expect(unhealthy.overdue.map((problem) => [problem.entry.state, problem.since])).toEqual([['unhealthy', 0]]);
  });

  it('ends a problem the first time the endpoint is healthy', () => {
    const down = trackProblems(new Map(), compareDelivery([B], seen({})), 0, AFTER);
    const healthy = trackProblems(down.since, compareDelivery([B], seen({ [B]: null })), 30_000, AFTER);
    expect(healthy.since.size).toBe(0);
    const again = trackProblems(healthy.since, compareDelivery([B], seen({})), 70_000, AFTER);
    expect(again.overdue).toEqual([]);
  });

  it('a threshold of 0 reports at once', () => {
    expect(trackProblems(new Map(), compareDelivery([B], seen({})), 5, 0).overdue).toHaveLength(1);
  });
});

describe('describeProblems', () => {
  it('one line per endpoint naming its state, pods and last errors, and no times', () => {
    const reads: SourceRead[] = [{ source: 'pod/q-1', ok: true, stores: [{ name: `${B}`, lastError: 'rpc error: code = Unavailable' }] }];
    const { overdue } = trackProblems(new Map(), compareDelivery([A, B], reads), 0, 0);
    expect(describeProblems(overdue)).toBe(
      `${A} not known to Thanos Query (pod/q-1)\n${B} unhealthy in Thanos Query (pod/q-1: rpc error: code = Unavailable)`,
    );
  });
});
