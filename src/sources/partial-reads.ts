import { describeError, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { applyPartialRead } from '../plan/partial-read.ts';
import type { Notifier } from '../sinks/mattermost-notifier.ts';
import type { Route53ReadResult } from './route53-reader.ts';
import type { SourcesReadResult } from './zone-sources.ts';

/** No zone of any source could be read: the poll failed as a whole and nothing changes. */
export class ZonesUnreadableError extends Error {
  override readonly name = 'ZonesUnreadableError';
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super(`no Route53 zone could be read: ${detail}`, options);
  }
}

export interface PartialReadsOptions {
  read: (signal: AbortSignal) => Promise<SourcesReadResult>;
  /** What is published now: the desired set of the last poll, or the ConfigMap's after a start. */
  published: () => readonly string[];
  metrics: Metrics;
  logger: Logger;
  notifier: Notifier;
}

/**
 * Turns a poll over zone sources into one read for the desired set: the partial-read rule of
 * `applyPartialRead`, with the memory of each zone's last full read kept here between polls. The result then goes
 * through `DesiredHosts.update` like any read, so the empty-read and removal rules apply across the whole set.
 */
export function createPartialReader(options: PartialReadsOptions): { read(signal?: AbortSignal): Promise<Route53ReadResult> } {
  const { metrics, logger, notifier } = options;
  let lastRead: ReadonlyMap<string, readonly string[]> = new Map();
  return {
    // Run-once reads without a signal: nothing can cancel it.
    async read(signal = new AbortController().signal) {
      const started = performance.now();
      const result = await options.read(signal);
      const failures = [
        ...result.unlistedSources.map(({ source, account, error }) => ({ source, account, zone: undefined, error })),
        ...result.zones.flatMap(({ ok, source, account, zone, error }) => (ok ? [] : [{ source, account, zone, error }])),
      ];
      const verdict = applyPartialRead({
        published: options.published(),
        zones: result.zones,
        unlistedSources: result.unlistedSources.map((entry) => entry.source),
        lastRead,
      });
      const durationMs = performance.now() - started;
      const summary = failures.map(({ source, zone, error }) => `${zone ?? `source ${source}`}: ${describeError(error)}`).join('; ');
      if (verdict.kind === 'nothing-read') {
        metrics.route53PollDuration.observe({ outcome: 'error' }, durationMs / 1000);
        throw new ZonesUnreadableError(summary, { cause: failures[0]?.error });
      }
      lastRead = verdict.lastRead;
      metrics.route53PollDuration.observe({ outcome: 'success' }, durationMs / 1000);
      metrics.endpointsKept.set(verdict.kept.length);
      for (const { source, account, zone, error } of failures) {
        logger.error('Route53 zone could not be read; its published endpoints are kept as they are', {
          source,
          account,
          zone: zone ?? '(unknown: the source could not list its zones)',
          error: describeError(error),
        });
      }
      if (failures.length > 0) {
        logger.warn('partial Route53 read: healthy zones apply, failed zones keep their endpoints', {
          failedZones: verdict.failedZones,
          unlistedSources: result.unlistedSources.map((entry) => entry.source),
          kept: verdict.kept.length,
        });
        notifier.notify({ title: 'Thanos store discovery cannot read some Route53 zones', error: summary });
      }
      const requests = Object.values(result.requestsByAccount).reduce((sum, count) => sum + count, 0);
      logger.debug('read Route53 zones', {
        zones: result.zones.length,
        failed: failures.length,
        records: result.recordSetsRead,
        hosts: verdict.hosts.length,
        requests,
        requestsByAccount: result.requestsByAccount,
        durationMs: Math.round(durationMs),
      });
      return {
        hosts: verdict.hosts,
        recordSetsRead: result.recordSetsRead,
        zones: result.zones.filter((zone) => zone.ok).map((zone) => zone.zone),
        requests,
      };
    },
  };
}
