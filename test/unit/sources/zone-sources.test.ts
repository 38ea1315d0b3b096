import {
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  ListTagsForResourcesCommand,
  type HostedZone,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { createLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { zoneMatches } from '../../../src/sources/zone-discovery.ts';
import { createSourcesReader } from '../../../src/sources/zone-sources.ts';
import type { ZoneSource } from '../../../src/sources/zone-sources-config.ts';
import { metricValue } from '../metric-value.ts';
import { record, sdkErrors } from './fakes.ts';

interface FakeZone {
  id: string;
  name: string;
  private?: boolean;
  tags?: Record<string, string>;
  hosts: string[];
}

/** One account's Route53: zones, their tags and records; `fail` makes an operation (or one zone's read) throw. */
function fakeAccount(zones: FakeZone[]) {
  const calls: string[] = [];
  const failing = new Map<string, () => Error>();
  const send = async (command: unknown) => {
    if (command instanceof ListHostedZonesCommand) {
      calls.push('ListHostedZones');
      const failure = failing.get('ListHostedZones');
      if (failure) throw failure();
      const HostedZones: HostedZone[] = zones.map((zone) => ({
        Id: `/hostedzone/${zone.id}`,
        Name: `${zone.name}.`,
        CallerReference: zone.id,
        Config: { PrivateZone: zone.private ?? true },
      }));
      return { HostedZones, IsTruncated: false, MaxItems: 100, Marker: '' };
    }
    if (command instanceof ListTagsForResourcesCommand) {
      calls.push(`ListTagsForResources ${command.input.ResourceIds?.join(',')}`);
      return {
        ResourceTagSets: (command.input.ResourceIds ?? []).map((id) => ({
          ResourceType: 'hostedzone',
          ResourceId: id,
          Tags: Object.entries(zones.find((zone) => zone.id === id)?.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
        })),
      };
    }
    if (command instanceof ListResourceRecordSetsCommand) {
      const id = command.input.HostedZoneId!;
      calls.push(`ListResourceRecordSets ${id}`);
      const failure = failing.get(id);
      if (failure) throw failure();
      const zone = zones.find((candidate) => candidate.id === id);
      if (!zone) throw sdkErrors.noSuchHostedZone(id);
      return {
        ResourceRecordSets: [record(`${zone.name}.`, 'SOA'), ...zone.hosts.map((host) => record(`${host}.`, 'A'))],
        IsTruncated: false,
      };
    }
    throw new Error('unexpected command');
  };
  return { client: { send } as unknown as Pick<Route53Client, 'send'>, calls, zones, failing };
}

const source = (overrides: Partial<ZoneSource> & Pick<ZoneSource, 'name'>): ZoneSource => ({
  role: undefined,
  zoneIds: [],
  domains: [],
  tags: {},
  includePublic: false,
  ...overrides,
});

function reader(sources: ZoneSource[], accounts: Record<string, ReturnType<typeof fakeAccount>>, discoveryEveryPolls = 2) {
  const metrics = createMetrics();
  const clients = new Map(
    sources.map((entry) => {
      const account = entry.role?.account ?? 'own';
      return [entry.name, { client: accounts[account]!.client, account }];
    }),
  );
  const sourcesReader = createSourcesReader({
    sources,
    clients,
    discoveryEveryPolls,
    suffix: '-grpc',
    metrics,
    logger: createLogger('error'),
    retry: { retries: 0 },
    now: () => 1_700_000_000_000,
  });
  return { metrics, read: () => sourcesReader.read(new AbortController().signal) };
}

const summary = (result: Awaited<ReturnType<ReturnType<typeof reader>['read']>>) =>
  result.zones.map((zone) => (zone.ok ? `${zone.zone} ${zone.hosts.join(',')}` : `${zone.zone} failed`)).sort();

const prodRole = { arn: 'arn:aws:iam::111111111111:role/reader', account: '111111111111', externalId: undefined };

describe('zoneMatches', () => {
  const zone = { id: 'Z1', name: 'eu.prod.example.com', private: true };
  it.each([
    ['a domain it is below', source({ name: 's', domains: ['prod.example.com'] }), {}, true],
    ['its own name', source({ name: 's', domains: ['eu.prod.example.com'] }), {}, true],
    ['a domain that only shares a suffix', source({ name: 's', domains: ['od.example.com'] }), {}, false],
    ['every tag', source({ name: 's', tags: { team: 'a', env: 'prod' } }), { team: 'a', env: 'prod', x: 'y' }, true],
    ['one tag with another value', source({ name: 's', tags: { team: 'a', env: 'prod' } }), { team: 'a', env: 'dev' }, false],
    ['domain and tags both', source({ name: 's', domains: ['example.com'], tags: { team: 'a' } }), { team: 'b' }, false],
    ['its id', source({ name: 's', zoneIds: ['Z1'] }), {}, true],
  ])('%s', (_title, selecting, tags, expected) => {
    expect(zoneMatches(zone, tags, selecting)).toBe(expected);
  });

  it('leaves public zones out unless asked', () => {
    const publicZone = { ...zone, private: false };
    expect(zoneMatches(publicZone, {}, source({ name: 's', domains: ['example.com'] }))).toBe(false);
    expect(zoneMatches(publicZone, {}, source({ name: 's', domains: ['example.com'], includePublic: true }))).toBe(true);
  });
});

describe('createSourcesReader', () => {
  it('reads the zones each source selects, in each account, with tags asked only of the remaining candidates', async () => {
    const own = fakeAccount([
      { id: 'ZA', name: 'a.example.internal', tags: { store: 'yes' }, hosts: ['a-grpc.a.example.internal'] },
      { id: 'ZB', name: 'b.example.internal', hosts: ['b-grpc.b.example.internal'] },
      { id: 'ZPUB', name: 'pub.example.internal', private: false, tags: { store: 'yes' }, hosts: ['p-grpc.pub.example.internal'] },
    ]);
    const prod = fakeAccount([{ id: 'ZP', name: 'eu.prod.example.com', hosts: ['c-grpc.eu.prod.example.com'] }]);
    const { read } = reader(
      [source({ name: 'own', tags: { store: 'yes' } }), source({ name: 'prod', role: prodRole, domains: ['prod.example.com'] })],
      { own, '111111111111': prod },
    );

    const result = await read();

    expect(summary(result)).toEqual(['ZA a-grpc.a.example.internal', 'ZP c-grpc.eu.prod.example.com']);
    expect(own.calls).toEqual(['ListHostedZones', 'ListTagsForResources ZA,ZB', 'ListResourceRecordSets ZA']);
    expect(prod.calls).toEqual(['ListHostedZones', 'ListResourceRecordSets ZP']);
    expect(result.requestsByAccount).toEqual({ own: 3, '111111111111': 2 });
    expect(result.zones.find((zone) => zone.zone === 'ZP')).toMatchObject({ name: 'eu.prod.example.com', account: '111111111111' });
  });

  it('lists again every discoveryEveryPolls polls, and a zone untagged meanwhile is dropped at the next listing', async () => {
    const own = fakeAccount([{ id: 'ZA', name: 'a.example.internal', tags: { store: 'yes' }, hosts: ['a-grpc.a.example.internal'] }]);
    const { read, metrics } = reader([source({ name: 'own', tags: { store: 'yes' } })], { own }, 2);
    await read();
    own.zones[0]!.tags = {};
    const second = await read();
    const third = await read();

    expect(summary(second)).toEqual(['ZA a-grpc.a.example.internal']);
    expect(summary(third)).toEqual([]);
    expect(own.calls.filter((call) => call === 'ListHostedZones')).toHaveLength(2);
    // No source selects it any more: its timestamp goes, so no alert fires for it.
    expect(await metrics.registry.getSingleMetricAsString('thanos_store_discovery_zone_last_success_timestamp_seconds')).not.toContain(
      'ZA',
    );
  });

  it('fails only the zone that fails, and keeps its timestamp where it was', async () => {
    const own = fakeAccount([
      { id: 'ZA', name: 'a.example.internal', hosts: ['a-grpc.a.example.internal'] },
      { id: 'ZB', name: 'b.example.internal', hosts: ['b-grpc.b.example.internal'] },
    ]);
    const { read, metrics } = reader([source({ name: 'ids', zoneIds: ['ZA', 'ZB'] })], { own });
    own.failing.set('ZA', sdkErrors.accessDenied);

    const result = await read();

    expect(summary(result)).toEqual(['ZA failed', 'ZB b-grpc.b.example.internal']);
    expect(result.zones.find((zone) => zone.zone === 'ZA')?.error?.message).toContain('AccessDenied');
    // Ids alone need no listing: no ListHostedZones permission is asked for.
    expect(own.calls).toEqual(['ListResourceRecordSets ZA', 'ListResourceRecordSets ZB']);
    expect(await metricValue(metrics.zoneLastSuccess, { zone: 'ZA', account: 'own' })).toBe(0);
    expect(await metricValue(metrics.zoneLastSuccess, { zone: 'ZB', account: 'own' })).toBe(1_700_000_000);
  });

  it('fails the rest of an account’s zones without reading them once one spent its retries on throttling; other accounts read on', async () => {
    const own = fakeAccount([
      { id: 'ZA', name: 'a.example.internal', hosts: ['a-grpc.a.example.internal'] },
      { id: 'ZB', name: 'b.example.internal', hosts: ['b-grpc.b.example.internal'] },
    ]);
    const prod = fakeAccount([{ id: 'ZP', name: 'eu.prod.example.com', hosts: ['c-grpc.eu.prod.example.com'] }]);
    const { read } = reader([source({ name: 'ids', zoneIds: ['ZA', 'ZB'] }), source({ name: 'prod', role: prodRole, zoneIds: ['ZP'] })], {
      own,
      '111111111111': prod,
    });
    own.failing.set('ZA', sdkErrors.throttling);

    const result = await read();

    expect(summary(result)).toEqual(['ZA failed', 'ZB failed', 'ZP c-grpc.eu.prod.example.com']);
    expect(own.calls).toEqual(['ListResourceRecordSets ZA']);
    expect(result.zones.find((zone) => zone.zone === 'ZB')?.error?.message).toMatch(
      /^not read this poll: zone ZA of account own failed first/,
    );
  });

  it('keeps the last listing when listing fails, and reports a source never listed as unlisted', async () => {
    const own = fakeAccount([{ id: 'ZA', name: 'a.example.internal', tags: { store: 'yes' }, hosts: ['a-grpc.a.example.internal'] }]);
    const prod = fakeAccount([{ id: 'ZP', name: 'eu.prod.example.com', hosts: ['c-grpc.eu.prod.example.com'] }]);
    prod.failing.set('ListHostedZones', sdkErrors.accessDenied);
    const { read, metrics } = reader(
      [source({ name: 'own', tags: { store: 'yes' } }), source({ name: 'prod', role: prodRole, domains: ['prod.example.com'] })],
      { own, '111111111111': prod },
      1,
    );

    const first = await read();
    own.failing.set('ListHostedZones', sdkErrors.accessDenied);
    const second = await read();

    expect(first.unlistedSources.map((entry) => entry.source)).toEqual(['prod']);
    expect(second.unlistedSources.map((entry) => entry.source)).toEqual(['prod']);
    expect(summary(second)).toEqual(['ZA a-grpc.a.example.internal']);
    expect(await metricValue(metrics.sourceLastListing, { source: 'prod', account: '111111111111' })).toBe(0);
    expect(await metricValue(metrics.sourceLastListing, { source: 'own', account: 'own' })).toBe(1_700_000_000);
  });

  it('reads a zone two sources of one account select once', async () => {
    const own = fakeAccount([{ id: 'ZA', name: 'a.example.internal', tags: { store: 'yes' }, hosts: ['a-grpc.a.example.internal'] }]);
    const { read } = reader([source({ name: 'ids', zoneIds: ['ZA'] }), source({ name: 'tags', tags: { store: 'yes' } })], { own });
    expect(summary(await read())).toEqual(['ZA a-grpc.a.example.internal']);
    expect(own.calls.filter((call) => call === 'ListResourceRecordSets ZA')).toHaveLength(1);
  });
});
