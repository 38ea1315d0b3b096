import { normaliseRecordName, selectEndpointHosts } from '../../../src/sources/records.ts';
import { record } from './fakes.ts';

describe('normaliseRecordName', () => {
  it.each([
    ['a-grpc.x.', 'a-grpc.x'],
    ['A-GRPC.Internal.Example.COM.', 'a-grpc.internal.example.com'],
    ['a-grpc.x', 'a-grpc.x'],
    ['\\052.x.', '*.x'],
    ['\\052-grpc.x.', '*-grpc.x'],
    ['a\\137b-grpc.x.', 'a_b-grpc.x'],
    ['\\101-grpc.x.', 'a-grpc.x'],
    ['a\\040b.x.', 'a b.x'],
    ['back\\134slash.x.', 'back\\slash.x'],
  ])('%s -> %s', (name, expected) => {
    expect(normaliseRecordName(name)).toBe(expected);
  });
});

describe('selectEndpointHosts', () => {
  it.each([
    { title: 'first label ends with the suffix', records: [record('a-grpc.x.', 'A')], hosts: ['a-grpc.x'] },
    { title: 'suffix on a later label only', records: [record('a.b-grpc.x.', 'A')], hosts: [] },
    { title: 'suffix inside the first label', records: [record('a-grpc-1.x.', 'A')], hosts: [] },
    { title: 'upper case and trailing dot', records: [record('A-GRPC.X.', 'A')], hosts: ['a-grpc.x'] },
    { title: 'AAAA', records: [record('a-grpc.x.', 'AAAA')], hosts: ['a-grpc.x'] },
    { title: 'CNAME', records: [record('a-grpc.x.', 'CNAME', { ResourceRecords: [{ Value: 'b.x' }] })], hosts: ['a-grpc.x'] },
    {
      title: 'alias record',
      records: [
        record('a-grpc.x.', 'A', {
          TTL: undefined,
          ResourceRecords: undefined,
          AliasTarget: { HostedZoneId: 'ZLB', DNSName: 'lb-1.elb.amazonaws.com.', EvaluateTargetHealth: false },
        }),
      ],
      hosts: ['a-grpc.x'],
    },
    { title: 'TXT ignored', records: [record('a-grpc.x.', 'TXT')], hosts: [] },
    { title: 'SRV ignored', records: [record('a-grpc.x.', 'SRV')], hosts: [] },
    {
      title: 'A and AAAA of one name give one host',
      records: [record('a-grpc.x.', 'A'), record('a-grpc.x.', 'AAAA')],
      hosts: ['a-grpc.x'],
    },
    {
      title: 'names differing only in case dedupe',
      records: [record('a-grpc.x.', 'A'), record('A-Grpc.X.', 'CNAME')],
      hosts: ['a-grpc.x'],
    },
    {
      title: 'sorted',
      records: [record('c-grpc.x.', 'A'), record('a-grpc.y.', 'A'), record('b-grpc.x.', 'A'), record('a-grpc.x.', 'A')],
      hosts: ['a-grpc.x', 'a-grpc.y', 'b-grpc.x', 'c-grpc.x'],
    },
    { title: 'escaped wildcard skipped', records: [record('\\052-grpc.x.', 'A')], hosts: [] },
    { title: 'escapes decoded before matching', records: [record('a\\137b-grpc.x.', 'A')], hosts: ['a_b-grpc.x'] },
    { title: 'escaped upper-case letters match', records: [record('a-\\107rpc.x.', 'A')], hosts: ['a-grpc.x'] },
    { title: 'decoded space is not a hostname', records: [record('a\\040b-grpc.x.', 'A')], hosts: [] },
    { title: 'escaped dot inside the first label is not a label break', records: [record('esc-grpc\\056inner.zone.x.', 'A')], hosts: [] },
    { title: 'escaped dot ending the first label', records: [record('esc\\056-grpc.zone.x.', 'A')], hosts: [] },
    { title: 'escaped dot in a later label', records: [record('a-grpc.in\\056ner.x.', 'A')], hosts: [] },
    { title: 'backslash-dot escape in a label', records: [record('a-grpc\\.b.x.', 'A')], hosts: [] },
    { title: 'escaped hyphen and digits stay a hostname', records: [record('a\\0551-grpc.x.', 'A')], hosts: ['a-1-grpc.x'] },
    { title: 'empty label', records: [record('a-grpc..x.', 'A')], hosts: [] },
    { title: 'record without a name', records: [{ Name: undefined, Type: 'A' as const }], hosts: [] },
    { title: 'nothing matches', records: [record('x.', 'SOA'), record('x.', 'NS'), record('web.x.', 'A')], hosts: [] },
  ])('$title', ({ records, hosts }) => {
    expect(selectEndpointHosts(records, '-grpc')).toEqual(hosts);
  });

  it('compares the suffix case-insensitively', () => {
    expect(selectEndpointHosts([record('a-grpc.x.', 'A'), record('b-store.x.', 'A')], '-GRPC')).toEqual(['a-grpc.x']);
    expect(selectEndpointHosts([record('a-grpc.x.', 'A'), record('b-Store.x.', 'A')], '-store')).toEqual(['b-store.x']);
  });

  it('reports records that match the suffix but cannot be endpoints, and only those', () => {
    const skipped: [string, string][] = [];
    const hosts = selectEndpointHosts(
      [
        record('\\052-grpc.x.', 'A'),
        record('a-grpc.x.', 'TXT'),
        record('a-grpc.x.', 'A'),
        record('a\\040b-grpc.x.', 'A'),
        record('x.', 'SOA'),
        record('\\052.x.', 'A'),
        record('esc-grpc\\056inner.zone.x.', 'A'),
        record('esc\\056-grpc.zone.x.', 'A'),
        record('a-grpc.in\\056ner.x.', 'A'),
      ],
      '-grpc',
      (name, reason) => skipped.push([name, reason]),
    );
    expect(hosts).toEqual(['a-grpc.x']);
    expect(skipped).toEqual([
      ['*-grpc.x', 'wildcard'],
      ['a-grpc.x', 'unsupported_type'],
      ['a b-grpc.x', 'not_a_hostname'],
      ['esc\\056-grpc.zone.x', 'not_a_hostname'],
      ['a-grpc.in\\056ner.x', 'not_a_hostname'],
    ]);
  });
});
