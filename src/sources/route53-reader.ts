import {
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  type ListResourceRecordSetsRequest,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { Logger } from '../logger.ts';
import type { Metrics, Route53Outcome } from '../metrics.ts';
import { selectEndpointHosts, type SkipReason } from './records.ts';
import { createRoute53Caller, type RetryOptions } from './route53-call.ts';

// AWS caps a page at 300 record sets; moto does not cap it, so the size is asked for explicitly.
const PAGE_SIZE = 300;

/** Reading one hosted zone failed: nothing of that zone was read. */
export class Route53ReadError extends Error {
  override readonly name = 'Route53ReadError';
  readonly zone: string;
  readonly code: string | undefined;

  constructor(zone: string, detail: string, options: { code?: string | undefined; cause?: unknown } = {}) {
    super(`Route53 zone ${zone}: ${detail}`, { cause: options.cause });
    this.zone = zone;
    this.code = options.code;
  }
}

export interface Route53ReadResult {
  hosts: string[];
  recordSetsRead: number;
  zones: string[];
  /** ListResourceRecordSets calls this read made, retries included: the poll's share of the account's quota. */
  requests: number;
}

export interface Route53ReaderOptions {
  client: Pick<Route53Client, 'send'>;
  zones: readonly string[];
  suffix: string;
  metrics: Metrics;
  logger: Logger;
  retry?: RetryOptions;
  signal?: AbortSignal;
}

type PageStart = Pick<ListResourceRecordSetsRequest, 'StartRecordName' | 'StartRecordType' | 'StartRecordIdentifier'>;

/** The shared part of reading one zone: paging, retries, record selection; `warnedSkips` lives as long as the reader. */
export interface ZoneReaderOptions {
  metrics: Metrics;
  logger: Logger;
  suffix: string;
  retry?: RetryOptions | undefined;
}

/** Reads one whole zone through `client`, or throws Route53ReadError: a zone is read in full or not at all. */
export type ReadZone = (
  client: Pick<Route53Client, 'send'>,
  zone: string,
  signal: AbortSignal | undefined,
  counter: { requests: number },
) => Promise<{ hosts: string[]; records: number }>;

export function createZoneReader(options: ZoneReaderOptions): ReadZone {
  const { metrics, logger, suffix } = options;
  // Per zone, the skips of its last full read, warned once: a bad record is warned when it appears, again only after
  // a whole read without it, and what is kept is bounded by the zones' current content.
  const warnedSkips = new Map<string, Set<string>>();
  const call = createRoute53Caller({ logger, retry: options.retry });

  function readPage(
    client: Pick<Route53Client, 'send'>,
    zone: string,
    start: PageStart,
    signal: AbortSignal | undefined,
    counter: { requests: number },
  ): Promise<ListResourceRecordSetsCommandOutput> {
    const input: ListResourceRecordSetsRequest = { HostedZoneId: zone, MaxItems: PAGE_SIZE, ...start };
    const target = {
      operation: 'ListResourceRecordSets',
      fields: { zone },
      count: (outcome: Route53Outcome) => metrics.route53Requests.inc({ zone, outcome }),
      fail: (detail: string, options: { code: string | undefined; cause: unknown }) => new Route53ReadError(zone, detail, options),
    };
    return call(target, () => client.send(new ListResourceRecordSetsCommand(input), { abortSignal: signal }), signal, counter);
  }

  return async (client, zone, signal, counter) => {
    const started = performance.now();
    const warned = warnedSkips.get(zone) ?? new Set<string>();
    const skipped = new Set<string>();
    const onSkip = (record: string, reason: SkipReason, detail: string) => {
      metrics.recordsSkipped.inc({ reason });
      // Every poll meets the same bad record again: warn the first time, so it is seen but does not flood the log.
      const seen = warned.has(record) || skipped.has(record);
      skipped.add(record);
      if (seen) return;
      logger.warn('skipped a Route53 record that cannot be a store endpoint', { zone, record, reason, detail });
    };
    const hosts = new Set<string>();
    let start: PageStart = {};
    let records = 0;
    let pages = 0;
    try {
      for (;;) {
        const page = await readPage(client, zone, start, signal, counter);
        pages++;
        const recordSets = page.ResourceRecordSets ?? [];
        // Every hosted zone has SOA and NS records: an empty first page is a broken answer, not an empty zone, and
        // taking it as one would silently drop this zone's endpoints while the other zones keep the set non-empty.
        if (pages === 1 && recordSets.length === 0) {
          throw new Route53ReadError(zone, 'ListResourceRecordSets returned no record sets, not even SOA and NS');
        }
        records += recordSets.length;
        for (const host of selectEndpointHosts(recordSets, suffix, onSkip)) hosts.add(host);
        if (!page.IsTruncated) break;
        start = nextStart(zone, start, page);
      }
    } catch (error) {
      // A failed read saw only part of the zone: forget nothing yet.
      for (const record of skipped) warned.add(record);
      warnedSkips.set(zone, warned);
      throw error;
    }
    warnedSkips.set(zone, skipped);
    logger.debug('read Route53 zone', { zone, records, pages, durationMs: Math.round(performance.now() - started) });
    return { hosts: [...hosts], records };
  };
}

/**
 * Reads every record set of every zone, each from its first page, and selects the endpoint hosts. Each page request
 * is retried on its own; any zone that cannot be read fails the whole read, so a partial set is never returned.
 * An abort (of `options.signal` or the read's own signal) rejects with the signal's reason.
 */
export function createRoute53Reader(options: Route53ReaderOptions): { read(signal?: AbortSignal): Promise<Route53ReadResult> } {
  const { client, metrics, logger } = options;
  const zones = [...options.zones];
  const readZone = createZoneReader(options);

  return {
    async read(signal) {
      const combined = anySignal(options.signal, signal);
      const started = performance.now();
      try {
        const hosts = new Set<string>();
        const counter = { requests: 0 };
        let recordSetsRead = 0;
        for (const zone of zones) {
          const read = await readZone(client, zone, combined, counter);
          recordSetsRead += read.records;
          for (const host of read.hosts) hosts.add(host);
        }
        const result = { hosts: [...hosts].sort(), recordSetsRead, zones: [...zones], requests: counter.requests };
        const durationMs = performance.now() - started;
        metrics.route53PollDuration.observe({ outcome: 'success' }, durationMs / 1000);
        logger.debug('read Route53 zones', {
          zones: zones.length,
          records: recordSetsRead,
          hosts: result.hosts.length,
          requests: counter.requests,
          durationMs: Math.round(durationMs),
        });
        return result;
      } catch (error) {
        metrics.route53PollDuration.observe({ outcome: 'error' }, (performance.now() - started) / 1000);
        throw error;
      }
    },
  };
}

/** The start of the page after `page`; a page that names no way forward would otherwise loop or stop short. */
function nextStart(zone: string, current: PageStart, page: ListResourceRecordSetsCommandOutput): PageStart {
  if (page.NextRecordName === undefined) {
    throw new Route53ReadError(zone, 'a truncated ListResourceRecordSets page named no NextRecordName');
  }
  const next: PageStart = { StartRecordName: page.NextRecordName };
  if (page.NextRecordType !== undefined) next.StartRecordType = page.NextRecordType;
  if (page.NextRecordIdentifier !== undefined) next.StartRecordIdentifier = page.NextRecordIdentifier;
  if (
    next.StartRecordName === current.StartRecordName &&
    next.StartRecordType === current.StartRecordType &&
    next.StartRecordIdentifier === current.StartRecordIdentifier
  ) {
    throw new Route53ReadError(zone, `ListResourceRecordSets pagination did not advance past ${page.NextRecordName}`);
  }
  return next;
}

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  return present.length > 1 ? AbortSignal.any(present) : present[0];
}
