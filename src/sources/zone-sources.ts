import type { Route53Client } from '@aws-sdk/client-route-53';
import { describeError, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { ZoneRead } from '../plan/partial-read.ts';
import { createRoute53Caller, type RetryOptions } from './route53-call.ts';
import { classifyRoute53Error, isRetryableOutcome } from './route53-errors.ts';
import { createZoneReader } from './route53-reader.ts';
import { discoverZones, needsListing, type SelectedZone } from './zone-discovery.ts';
import type { ZoneSource } from './zone-sources-config.ts';

type Send = Pick<Route53Client, 'send'>;

/** One zone of one poll over the sources: read in full, or failed with its error. */
export type ZoneOutcome = ZoneRead & { source: string; account: string; error?: Error };

export interface SourcesReadResult {
  zones: ZoneOutcome[];
  /** Sources whose zones are unknown: their listing failed and none succeeded since start. */
  unlistedSources: { source: string; account: string; error: Error }[];
  recordSetsRead: number;
  /** Route53 calls of this poll, retries included, by account: each account's share of its own quota. */
  requestsByAccount: Record<string, number>;
}

export interface SourcesReaderOptions {
  sources: readonly ZoneSource[];
  clients: ReadonlyMap<string, { client: Send; account: string }>;
  /** Sources list their zones on the first poll, then every this many polls; a failed listing is tried next poll. */
  discoveryEveryPolls: number;
  suffix: string;
  metrics: Metrics;
  logger: Logger;
  retry?: RetryOptions;
  /** Unix ms, for the per-zone timestamps. */
  now?: () => number;
}

interface SourceState {
  zones: SelectedZone[] | undefined;
  pollsSinceListing: number;
}

/**
 * Each poll: every source lists its zones when due (a failed listing keeps the last one), then every zone is read
 * in full or fails on its own. Accounts are read side by side, each within its own request budget; the zones of
 * one account one after another.
 */
export function createSourcesReader(options: SourcesReaderOptions): { read(signal: AbortSignal): Promise<SourcesReadResult> } {
  const { sources, clients, metrics, logger } = options;
  const now = options.now ?? Date.now;
  const readZone = createZoneReader({ metrics, logger, suffix: options.suffix, retry: options.retry });
  const call = createRoute53Caller({ logger, retry: options.retry });
  const states = new Map<string, SourceState>(sources.map((source) => [source.name, { zones: undefined, pollsSinceListing: 0 }]));
  const zoneLabels = new Map<string, { zone: string; account: string }>();

  const clientOf = (source: ZoneSource) => {
    const entry = clients.get(source.name);
    if (entry === undefined) throw new Error(`no Route53 client for zone source ${source.name}`);
    return entry;
  };

  for (const source of sources.filter(needsListing))
    metrics.sourceLastListing.set({ source: source.name, account: clientOf(source).account }, 0);

  /** The source's zones, and the listing's failure when the last listing had to stand in. */
  async function zonesOf(
    source: ZoneSource,
    signal: AbortSignal,
    counter: { requests: number },
    unreachable: Error | undefined,
  ): Promise<{ zones: SelectedZone[]; failure?: Error }> {
    if (!needsListing(source)) return { zones: source.zoneIds.map((id) => ({ id, name: undefined })) };
    const state = states.get(source.name)!;
    const due = state.zones === undefined || state.pollsSinceListing >= options.discoveryEveryPolls;
    state.pollsSinceListing++;
    if (!due) return { zones: state.zones! };
    // The account is unreachable this poll: no listing (it would spend a retry budget too); it is due again next poll.
    if (unreachable !== undefined) {
      if (state.zones === undefined) throw unreachable;
      return { zones: state.zones };
    }
    const { client, account } = clientOf(source);
    try {
      const zones = await discoverZones(source, client, call, metrics, signal, counter);
      const before = new Set(state.zones?.map((zone) => zone.id));
      const added = zones.filter((zone) => !before.has(zone.id)).map((zone) => zone.id);
      const gone = (state.zones ?? []).filter((zone) => !zones.some((z) => z.id === zone.id)).map((zone) => zone.id);
      if (added.length > 0 || gone.length > 0) logger.info('zone source listed its zones', { source: source.name, account, added, gone });
      state.zones = zones;
      state.pollsSinceListing = 1;
      metrics.sourceLastListing.set({ source: source.name, account }, now() / 1000);
      return { zones };
    } catch (error) {
      if (signal.aborted) throw error;
      logger.warn('zone source could not list its zones; its last listing stands', {
        source: source.name,
        account,
        known: state.zones?.length,
        error: describeError(error),
      });
      if (state.zones === undefined) throw error;
      return { zones: state.zones, failure: error as Error };
    }
  }

  async function readAccount(accountSources: readonly ZoneSource[], signal: AbortSignal, result: SourcesReadResult): Promise<void> {
    const counter = { requests: 0 };
    // Two sources of one account may select the same zone: it is read once.
    const seen = new Set<string>();
    let unreachable: Error | undefined;
    for (const source of accountSources) {
      const { client, account } = clientOf(source);
      let zones: SelectedZone[];
      try {
        const listed = await zonesOf(source, signal, counter, unreachable);
        zones = listed.zones;
        if (listed.failure !== undefined) unreachable ??= unreachableAfter(listed.failure, `listing source ${source.name}`, account);
      } catch (error) {
        if (signal.aborted) throw error;
        result.unlistedSources.push({ source: source.name, account, error: error as Error });
        unreachable ??= unreachableAfter(error as Error, `listing source ${source.name}`, account);
        continue;
      }
      for (const zone of zones.filter((candidate) => !seen.has(candidate.id))) {
        seen.add(zone.id);
        const labels = { zone: zone.id, account };
        if (!zoneLabels.has(zone.id)) metrics.zoneLastSuccess.set(labels, 0);
        zoneLabels.set(zone.id, labels);
        if (unreachable !== undefined) {
          result.zones.push({ zone: zone.id, name: zone.name, ok: false, source: source.name, account, error: unreachable });
          continue;
        }
        try {
          const read = await readZone(client, zone.id, signal, counter);
          result.recordSetsRead += read.records;
          metrics.zoneLastSuccess.set(labels, now() / 1000);
          result.zones.push({ zone: zone.id, name: zone.name, ok: true, hosts: read.hosts, source: source.name, account });
        } catch (error) {
          if (signal.aborted) throw error;
          result.zones.push({ zone: zone.id, name: zone.name, ok: false, source: source.name, account, error: error as Error });
          unreachable ??= unreachableAfter(error as Error, `zone ${zone.id}`, account);
        }
      }
    }
    const account = clientOf(accountSources[0]!).account;
    result.requestsByAccount[account] = counter.requests;
  }

  const byAccount = new Map<string, ZoneSource[]>();
  for (const source of sources) {
    const account = clientOf(source).account;
    byAccount.set(account, [...(byAccount.get(account) ?? []), source]);
  }

  return {
    async read(signal) {
      const result: SourcesReadResult = { zones: [], unlistedSources: [], recordSetsRead: 0, requestsByAccount: {} };
      await Promise.all([...byAccount.values()].map((accountSources) => readAccount(accountSources, signal, result)));
      // A zone no source selects any more has no timestamp to age: its series goes, so no alert fires for it.
      const current = new Set(result.zones.map((zone) => zone.zone));
      const unlisted = new Set(result.unlistedSources.map((entry) => entry.source));
      for (const [zone, labels] of zoneLabels) {
        const stillSelected =
          current.has(zone) || sources.some((source) => unlisted.has(source.name) && labels.account === clientOf(source).account);
        if (stillSelected) continue;
        metrics.zoneLastSuccess.remove(labels);
        zoneLabels.delete(zone);
      }
      return result;
    },
  };
}

/**
 * Retries spent on throttling, 5xx or the network say an account (or Route53) cannot be reached now: its other zones
 * then fail this poll without spending their own retry budgets, which would stretch the poll past the liveness
 * window. A failure of one zone or source alone (deleted, access denied) says nothing of the others: undefined.
 */
function unreachableAfter(error: Error, what: string, account: string): Error | undefined {
  if (!isRetryableOutcome(classifyRoute53Error(error.cause ?? error))) return undefined;
  return new Error(`not read this poll: ${what} of account ${account} failed first: ${error.message}`, { cause: error });
}
