import { randomUUID } from 'node:crypto';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  ChangeTagsForResourceCommand,
  DeleteHostedZoneCommand,
  Route53Client,
  type Change,
  type ChangeAction,
  type ResourceRecordSet,
  type Route53ClientConfig,
  type RRType,
} from '@aws-sdk/client-route-53';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';

export const TEST_AWS_REGION = 'us-east-1';
/** moto accepts any credentials; fixed ones keep the SDK from searching the default chain. */
export const TEST_AWS_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
export const TEST_VPC = { VPCId: 'vpc-0a1b2c3d4e5f60789', VPCRegion: TEST_AWS_REGION } as const;
const DEFAULT_TTL = 300;
/** Route53 takes at most 1,000 ResourceRecord elements per ChangeResourceRecordSets call; an UPSERT counts twice. */
const MAX_RECORDS_PER_BATCH = 1_000;
const MAX_PAGE_SIZE = 300;

export type FixtureRecord =
  | { name: string; type: RRType; value: string | readonly string[]; ttl?: number }
  | { name: string; type: RRType; alias: { dnsName: string; hostedZoneId: string; evaluateTargetHealth?: boolean } };

export interface Route53Fixture {
  readonly client: Route53Client;
  /** A private zone (attached to TEST_VPC); returns its bare id (without `/hostedzone/`). */
  createPrivateZone(name: string): Promise<string>;
  /** A public zone; returns its bare id. */
  createPublicZone(name: string): Promise<string>;
  /** Adds the tags in `add` and removes the keys in `remove`. */
  tagZone(zoneId: string, add: Record<string, string>, remove?: readonly string[]): Promise<void>;
  deleteZone(zoneId: string): Promise<void>;
  /** UPSERTs in as few calls as the 1,000-record limit allows; returns the number of calls made. */
  upsertRecords(zoneId: string, records: readonly FixtureRecord[]): Promise<number>;
  /** DELETEs records given exactly as they were upserted (Route53 matches TTL and values). Returns the call count. */
  deleteRecords(zoneId: string, records: readonly FixtureRecord[]): Promise<number>;
  /**
   * Every record set of a zone, following NextRecordName/Type/Identifier with `pageSize` per page. Throws if a page
   * points back at its own start: moto gives no NextRecordIdentifier and ignores StartRecordIdentifier, so record
   * sets sharing a name and type across a page boundary would otherwise be listed forever.
   */
  listRecordSets(zoneId: string, pageSize?: number): Promise<{ recordSets: ResourceRecordSet[]; pages: number }>;
  destroy(): void;
}

export interface FixtureOptions {
  /** `maxAttempts: 1` turns retries off. */
  maxAttempts?: number;
  /** Another account's: moto runs every request in the account of the credentials (see assumeRoleCredentials). */
  credentials?: Route53ClientConfig['credentials'];
}

/** A real SDK client for `endpoint` (moto, or a fault proxy in front of it). */
export function createRoute53Client(endpoint: string, options: FixtureOptions = {}): Route53Client {
  return new Route53Client({
    endpoint,
    region: TEST_AWS_REGION,
    credentials: options.credentials ?? TEST_AWS_CREDENTIALS,
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
  });
}

function toRecordSet(record: FixtureRecord): ResourceRecordSet {
  if ('alias' in record) {
    return {
      Name: record.name,
      Type: record.type,
      AliasTarget: {
        DNSName: record.alias.dnsName,
        HostedZoneId: record.alias.hostedZoneId,
        EvaluateTargetHealth: record.alias.evaluateTargetHealth ?? false,
      },
    };
  }
  const values = typeof record.value === 'string' ? [record.value] : record.value;
  return {
    Name: record.name,
    Type: record.type,
    TTL: record.ttl ?? DEFAULT_TTL,
    ResourceRecords: values.map((Value) => ({ Value })),
  };
}

function weight(change: Change): number {
  const records = change.ResourceRecordSet?.ResourceRecords?.length ?? 1;
  return change.Action === 'UPSERT' ? 2 * records : records;
}

/** Splits changes into batches of at most MAX_RECORDS_PER_BATCH weighted records, keeping their order. */
export function batchChanges(changes: readonly Change[]): Change[][] {
  const batches: Change[][] = [];
  let current: Change[] = [];
  let size = 0;
  for (const change of changes) {
    const w = weight(change);
    if (w > MAX_RECORDS_PER_BATCH) throw new Error(`one change of ${change.ResourceRecordSet?.Name} exceeds a batch`);
    if (size + w > MAX_RECORDS_PER_BATCH) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(change);
    size += w;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Credentials in the account of `roleArn`: moto's AssumeRole never refuses and maps the credentials it returns to
 * the role's account, so zones created with them live in that account only.
 */
export function assumeRoleCredentials(endpoint: string, roleArn: string): Route53ClientConfig['credentials'] {
  return fromTemporaryCredentials({
    params: { RoleArn: roleArn, RoleSessionName: 'fixture' },
    masterCredentials: TEST_AWS_CREDENTIALS,
    clientConfig: { endpoint, region: TEST_AWS_REGION },
  });
}

export function route53Fixture(endpoint: string, options: FixtureOptions = {}): Route53Fixture {
  const client = createRoute53Client(endpoint, options);

  const change = async (zoneId: string, action: ChangeAction, records: readonly FixtureRecord[]): Promise<number> => {
    const batches = batchChanges(records.map((r) => ({ Action: action, ResourceRecordSet: toRecordSet(r) })));
    for (const Changes of batches) {
      await client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes } }));
    }
    return batches.length;
  };

  const createZone = async (name: string, privateZone: boolean): Promise<string> => {
    const created = await client.send(
      new CreateHostedZoneCommand({
        Name: name,
        CallerReference: randomUUID(),
        HostedZoneConfig: { PrivateZone: privateZone, Comment: 'thanos-store-discovery test' },
        ...(privateZone ? { VPC: TEST_VPC } : {}),
      }),
    );
    const id = created.HostedZone?.Id;
    if (id === undefined) throw new Error(`CreateHostedZone for ${name} returned no zone id`);
    return id.replace(/^\/hostedzone\//, '');
  };

  return {
    client,
    createPrivateZone: (name) => createZone(name, true),
    createPublicZone: (name) => createZone(name, false),
    async tagZone(zoneId, add, remove = []) {
      await client.send(
        new ChangeTagsForResourceCommand({
          ResourceType: 'hostedzone',
          ResourceId: zoneId,
          ...(Object.keys(add).length > 0 ? { AddTags: Object.entries(add).map(([Key, Value]) => ({ Key, Value })) } : {}),
          ...(remove.length > 0 ? { RemoveTagKeys: [...remove] } : {}),
        }),
      );
    },
    async deleteZone(zoneId) {
      await client.send(new DeleteHostedZoneCommand({ Id: zoneId }));
    },
    upsertRecords: (zoneId, records) => change(zoneId, 'UPSERT', records),
    deleteRecords: (zoneId, records) => change(zoneId, 'DELETE', records),
    async listRecordSets(zoneId, pageSize = MAX_PAGE_SIZE) {
      const recordSets: ResourceRecordSet[] = [];
      let pages = 0;
      let next: { StartRecordName?: string; StartRecordType?: RRType; StartRecordIdentifier?: string } = {};
      let cursor = '';
      while (true) {
        const page = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, MaxItems: pageSize, ...next }));
        pages++;
        recordSets.push(...(page.ResourceRecordSets ?? []));
        if (page.IsTruncated !== true) return { recordSets, pages };
        const nextCursor = `${page.NextRecordName} ${page.NextRecordType} ${page.NextRecordIdentifier}`;
        if (nextCursor === cursor) throw new Error(`listing zone ${zoneId} makes no progress at ${nextCursor}`);
        cursor = nextCursor;
        next = {
          ...(page.NextRecordName === undefined ? {} : { StartRecordName: page.NextRecordName }),
          ...(page.NextRecordType === undefined ? {} : { StartRecordType: page.NextRecordType }),
          ...(page.NextRecordIdentifier === undefined ? {} : { StartRecordIdentifier: page.NextRecordIdentifier }),
        };
      }
    },
    destroy: () => client.destroy(),
  };
}
