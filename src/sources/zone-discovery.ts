import {
  ListHostedZonesCommand,
  ListTagsForResourcesCommand,
  type HostedZone,
  type ListHostedZonesCommandOutput,
  type ListTagsForResourcesCommandOutput,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { Metrics, Route53Outcome } from '../metrics.ts';
import { isUnder } from '../plan/partial-read.ts';
import type { Route53Caller } from './route53-call.ts';
import type { ZoneSource } from './zone-sources-config.ts';

/** A hosted zone a source selects. `name` is unknown for a zone given by id alone (no listing is needed then). */
export interface SelectedZone {
  id: string;
  name: string | undefined;
}

/** Listing a source's zones failed: its zones are those of its last listing, or unknown. */
export class ZoneDiscoveryError extends Error {
  override readonly name = 'ZoneDiscoveryError';
  readonly source: string;
  readonly code: string | undefined;

  constructor(source: string, detail: string, options: { code?: string | undefined; cause?: unknown } = {}) {
    super(`zone source ${source}: ${detail}`, { cause: options.cause });
    this.source = source;
    this.code = options.code;
  }
}

// ListHostedZones returns at most 100 zones a page, ListTagsForResources takes at most 10 ids.
const ZONES_PAGE = 100;
const TAGS_BATCH = 10;

export interface ListedZone {
  id: string;
  name: string;
  private: boolean;
}

/** Whether a listed zone (with its tags) belongs to `source`: every given criterion holds, each a list of choices. */
export function zoneMatches(zone: ListedZone, tags: Readonly<Record<string, string>>, source: ZoneSource): boolean {
  if (!zone.private && !source.includePublic) return false;
  if (source.zoneIds.length > 0 && !source.zoneIds.includes(zone.id)) return false;
  if (source.domains.length > 0 && !source.domains.some((domain) => isUnder(zone.name, domain))) return false;
  return Object.entries(source.tags).every(([key, value]) => tags[key] === value);
}

/** A source that names only zone ids needs no listing: its zones are those ids (and ListHostedZones is not needed). */
export function needsListing(source: ZoneSource): boolean {
  return source.domains.length > 0 || Object.keys(source.tags).length > 0;
}

/**
 * The zones `source` selects, found through ListHostedZones and, when it selects by tag, ListTagsForResources on
 * the zones its other criteria leave. Each request is retried on its own; any failure fails the listing.
 */
export async function discoverZones(
  source: ZoneSource,
  client: Pick<Route53Client, 'send'>,
  call: Route53Caller,
  metrics: Metrics,
  signal: AbortSignal | undefined,
  counter: { requests: number },
): Promise<SelectedZone[]> {
  const target = (operation: string) => ({
    operation,
    fields: { source: source.name },
    count: (outcome: Route53Outcome) => metrics.route53DiscoveryRequests.inc({ source: source.name, operation, outcome }),
    fail: (detail: string, options: { code: string | undefined; cause: unknown }) => new ZoneDiscoveryError(source.name, detail, options),
  });
  const listed: ListedZone[] = [];
  let marker: string | undefined;
  do {
    const page: ListHostedZonesCommandOutput = await call(
      target('ListHostedZones'),
      () => client.send(new ListHostedZonesCommand({ MaxItems: ZONES_PAGE, Marker: marker }), { abortSignal: signal }),
      signal,
      counter,
    );
    listed.push(...(page.HostedZones ?? []).flatMap(toListed));
    marker = page.IsTruncated ? page.NextMarker : undefined;
  } while (marker !== undefined);

  const noTags = { ...source, tags: {} };
  const candidates = listed.filter((zone) => zoneMatches(zone, {}, noTags));
  if (Object.keys(source.tags).length === 0) return candidates.map(({ id, name }) => ({ id, name }));
  const tagsOf = new Map<string, Record<string, string>>();
  for (let i = 0; i < candidates.length; i += TAGS_BATCH) {
    const ids = candidates.slice(i, i + TAGS_BATCH).map((zone) => zone.id);
    const answer: ListTagsForResourcesCommandOutput = await call(
      target('ListTagsForResources'),
      () => client.send(new ListTagsForResourcesCommand({ ResourceType: 'hostedzone', ResourceIds: ids }), { abortSignal: signal }),
      signal,
      counter,
    );
    for (const set of answer.ResourceTagSets ?? []) {
      if (set.ResourceId === undefined) continue;
      tagsOf.set(bareId(set.ResourceId), Object.fromEntries((set.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])));
    }
  }
  return candidates.filter((zone) => zoneMatches(zone, tagsOf.get(zone.id) ?? {}, source)).map(({ id, name }) => ({ id, name }));
}

function toListed(zone: HostedZone): ListedZone[] {
  if (zone.Id === undefined || zone.Name === undefined) return [];
  return [{ id: bareId(zone.Id), name: zone.Name.toLowerCase().replace(/\.$/, ''), private: zone.Config?.PrivateZone === true }];
}

function bareId(id: string): string {
  return id.replace(/^\/?hostedzone\//, '');
}
