import { createPartialReader, ZonesUnreadableError } from '../../../src/sources/partial-reads.ts';
import { createMetrics } from '../../../src/metrics.ts';
import type { SourcesReadResult } from '../../../src/sources/zone-sources.ts';
import { captureLogger } from '../sinks/fakes.ts';
import { pollCount } from './fakes.ts';
import { metricValue } from '../metric-value.ts';

const A = 'a-grpc.east.example.com';
const B = 'b-grpc.west.example.com';
const B2 = 'b2-grpc.west.example.com';

function setup(results: SourcesReadResult[], published: readonly string[]) {
  const metrics = createMetrics();
  const { logger, entries } = captureLogger();
  const alerts: string[] = [];
  const partial = createPartialReader({
    read: async () => results.shift()!,
    published: () => published,
    metrics,
    logger,
    notifier: { notify: (alert) => alerts.push(alert.title) },
  });
  return { partial, metrics, entries, alerts };
}

const east = { zone: 'ZE', name: 'east.example.com', source: 'east', account: '111111111111' };
const west = { zone: 'ZW', name: 'west.example.com', source: 'west', account: 'own' };
const result = (zones: SourcesReadResult['zones']): SourcesReadResult => ({
  zones,
  unlistedSources: [],
  recordSetsRead: 4,
  requestsByAccount: { own: 1, '111111111111': 1 },
});

describe('createPartialReader', () => {
  it('adds a healthy zone’s new host, keeps the failed zone’s published host, and reports the failed zone', async () => {
    const { partial, metrics, entries, alerts } = setup(
      [
        result([
          { ...east, ok: false, error: new Error('AccessDenied') },
          { ...west, ok: true, hosts: [B, B2] },
        ]),
      ],
      [A, B],
    );

    const read = await partial.read();

    expect(read).toEqual({ hosts: [A, B, B2], recordSetsRead: 4, zones: ['ZW'], requests: 2 });
    expect(await metricValue(metrics.endpointsKept)).toBe(1);
    expect(await pollCount(metrics, 'success')).toBe(1);
    expect(entries.filter((entry) => entry['level'] === 'error')).toEqual([
      expect.objectContaining({ zone: 'ZE', source: 'east', account: '111111111111', error: 'AccessDenied' }),
    ]);
    expect(alerts).toEqual(['Thanos store discovery cannot read some Route53 zones']);
  });

  it('fails the poll when no zone could be read, so nothing changes', async () => {
    const { partial, metrics } = setup([result([{ ...east, ok: false, error: new Error('NoSuchHostedZone') }])], [A]);

    await expect(partial.read()).rejects.toThrow(ZonesUnreadableError);
    expect(await pollCount(metrics, 'error')).toBe(1);
    expect(await pollCount(metrics, 'success')).toBe(0);
  });

  it('remembers each zone’s last full read between polls, which tells apart two zones of one name', async () => {
    // Split horizon: two zones named east.example.com. Poll 2: the first fails, the second no longer holds A2.
    const A2 = 'a2-grpc.east.example.com';
    const east2 = { ...east, zone: 'ZE2', source: 'east2', account: '222222222222' };
    const { partial } = setup(
      [
        result([
          { ...east, ok: true, hosts: [A] },
          { ...east2, ok: true, hosts: [A2] },
          { ...west, ok: true, hosts: [B] },
        ]),
        result([
          { ...east, ok: false, error: new Error('Throttling') },
          { ...east2, ok: true, hosts: [] },
          { ...west, ok: true, hosts: [B] },
        ]),
      ],
      [A, A2, B],
    );
    await partial.read();
    // By name alone A2 would be kept too; the memory says it was the healthy zone's, so it goes missing.
    expect((await partial.read()).hosts).toEqual([A, B]);
  });
});
