import { ConfigError, loadConfig } from '../../../src/config.ts';
import { accountOf, parseZoneSources, withOwnZones, type ZoneSource } from '../../../src/sources/zone-sources-config.ts';

const BASE = { THANOS_NAMESPACE: 'monitoring', THANOS_DEPLOYMENT_NAME: 'thanos-query', THANOS_CONFIGMAP_NAME: 'thanos-store-sd' };
const FILE = '/etc/thanos-store-discovery/sources.yaml';

function problemsOf(text: string): string[] {
  return parseZoneSources(text, FILE).problems;
}

describe('parseZoneSources', () => {
  it('reads a list of sources as the chart renders it, in YAML or JSON', () => {
    const yaml = `
- name: shared
  domains: [Internal.Example.com.]
  tags: { thanos-store-discovery: enabled }
- name: prod
  roleArn: arn:aws:iam::111111111111:role/thanos-store-discovery-reader
  externalId: tsd-prod
  zoneIds: [/hostedzone/Z0PROD]
  includePublic: true
`;
    const { sources, problems } = parseZoneSources(yaml, FILE);
    expect(problems).toEqual([]);
    expect(sources).toEqual([
      {
        name: 'shared',
        role: undefined,
        zoneIds: [],
        domains: ['internal.example.com'],
        tags: { 'thanos-store-discovery': 'enabled' },
        includePublic: false,
      },
      {
        name: 'prod',
        role: { arn: 'arn:aws:iam::111111111111:role/thanos-store-discovery-reader', account: '111111111111', externalId: 'tsd-prod' },
        zoneIds: ['Z0PROD'],
        domains: [],
        tags: {},
        includePublic: true,
      },
    ]);
    expect(sources.map(accountOf)).toEqual(['own', '111111111111']);
    expect(parseZoneSources(JSON.stringify([{ name: 'a', tags: { team: '' } }]), FILE).sources[0]?.tags).toEqual({ team: '' });
  });

  it.each([
    ['not YAML', '- [', /is not valid YAML or JSON/],
    ['not a list', 'name: a', /must hold a non-empty list of zone sources/],
    ['an empty list', '[]', /must hold a non-empty list/],
    ['an entry that is not a mapping', '- a', /source 1 is not a mapping/],
    ['an unknown field (a typo)', '- { name: a, domain: [x.com] }', /source 1 \("a"\): unknown field "domain"/],
    ['a missing name', '- { domains: [x.com] }', /source 1: name must be a DNS label/],
    ['a source that selects nothing', '- { name: a }', /"a"\): selects no zone/],
    [
      'a bad role ARN',
      '- { name: a, domains: [x.com], roleArn: arn:aws:iam::1:user/x }',
      /roleArn "arn:aws:iam::1:user\/x" is not an IAM role ARN/,
    ],
    ['an external id without a role', '- { name: a, domains: [x.com], externalId: abc }', /externalId needs a roleArn/],
    ['a bad zone id', '- { name: a, zoneIds: [z-1] }', /zoneIds entry "z-1" is not a hosted zone id/],
    ['a bad domain', '- { name: a, domains: ["x..com"] }', /domains entry "x..com" is not a domain name/],
    ['domains as a string', '- { name: a, domains: x.com }', /domains must be a list of non-empty strings/],
    ['a tag value that is a number', '- { name: a, tags: { team: 1 } }', /tag "team" must have a string value/],
    ['tags as a list', '- { name: a, tags: [team] }', /tags must be a mapping/],
    ['includePublic as text', '- { name: a, domains: [x.com], includePublic: "yes" }', /includePublic must be true or false/],
    ['two sources of one name', '- { name: a, domains: [x.com] }\n- { name: a, domains: [y.com] }', /two sources are named "a"/],
  ])('names the problem: %s', (_title, text, problem) => {
    expect(problemsOf(text)).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
  });

  it('names every problem of every source at once', () => {
    expect(problemsOf('- { name: A }\n- { name: b, roleArn: x, zoneIds: [bad-id] }')).toHaveLength(4);
  });
});

describe('withOwnZones', () => {
  const source: ZoneSource = { name: 'prod', role: undefined, zoneIds: [], domains: ['prod.example.com'], tags: {}, includePublic: false };

  it("adds the zones of PRIVATE_HOSTED_ZONE_ID as one more source, read with the pod's own credentials", () => {
    expect(withOwnZones([source], ['Z1', 'Z2'])).toEqual([
      source,
      { name: 'PRIVATE_HOSTED_ZONE_ID', role: undefined, zoneIds: ['Z1', 'Z2'], domains: [], tags: {}, includePublic: false },
    ]);
  });

  it('adds nothing without such zones', () => {
    expect(withOwnZones([source], [])).toEqual([source]);
  });
});

describe('loadConfig with ROUTE53_SOURCES_FILE', () => {
  const files = (text: string) => (path: string) => {
    if (path !== FILE) throw new Error(`ENOENT: no such file, open '${path}'`);
    return text;
  };

  it('makes PRIVATE_HOSTED_ZONE_ID optional and names this pod in the role session', () => {
    const config = loadConfig({ ...BASE, ROUTE53_SOURCES_FILE: FILE, POD_NAME: 'tsd-7d9f' }, files('- { name: a, tags: { k: v } }'));
    expect(config.zones).toEqual([]);
    expect(config.sources).toEqual({
      list: [expect.objectContaining({ name: 'a', tags: { k: 'v' } })],
      discoveryEveryPolls: 5,
      roleSessionName: 'thanos-store-discovery@monitoring.tsd-7d9f',
    });
  });

  it('keeps PRIVATE_HOSTED_ZONE_ID beside the sources', () => {
    const config = loadConfig(
      { ...BASE, PRIVATE_HOSTED_ZONE_ID: 'Z1', ROUTE53_SOURCES_FILE: FILE, ROUTE53_DISCOVERY_EVERY_POLLS: '3' },
      files('- { name: a, domains: [x.com] }'),
    );
    expect(config.zones).toEqual(['Z1']);
    expect(config.sources?.discoveryEveryPolls).toBe(3);
  });

  it('fails with every problem: an unreadable file beside other bad settings', () => {
    try {
      loadConfig({ ...BASE, ROUTE53_SOURCES_FILE: '/missing.yaml', ROUTE53_DISCOVERY_EVERY_POLLS: '0', STORE_PORT: 'x' }, files(''));
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        'STORE_PORT="x" is not a whole number',
        'ROUTE53_DISCOVERY_EVERY_POLLS=0 is out of range 1..10000',
        `ROUTE53_SOURCES_FILE="/missing.yaml" cannot be read: ENOENT: no such file, open '/missing.yaml'`,
      ]);
    }
  });

  it('passes the file problems on', () => {
    expect(() => loadConfig({ ...BASE, ROUTE53_SOURCES_FILE: FILE }, files('- { name: a }'))).toThrow(/selects no zone/);
  });
});
