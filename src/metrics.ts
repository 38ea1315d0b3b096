import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PREFIX = 'thanos_store_discovery_';

export type Route53Outcome = 'success' | 'throttled' | 'server_error' | 'network_error' | 'client_error';
export type ReconcileOutcome = 'success' | 'error' | 'skipped_empty' | 'waiting' | 'refused_oversize' | 'fenced';

/** Every metric the controller exports, on one registry so tests can read them without global state. */
export function createMetrics(registry: Registry = new Registry()) {
  const registers = [registry];
  // Read at scrape time, so the gauge keeps growing while an informer hears nothing.
  const stalenessSources = new Map<string, () => number>();
  return {
    registry,
    endpoints: new Gauge({ name: `${PREFIX}endpoints`, help: 'Store endpoints currently published in the ConfigMap.', registers }),
    route53Requests: new Counter({
      name: `${PREFIX}route53_requests_total`,
      help: 'ListResourceRecordSets calls by hosted zone and outcome (each retry counts).',
      labelNames: ['zone', 'outcome'] as const,
      registers,
    }),
    route53DiscoveryRequests: new Counter({
      name: `${PREFIX}route53_discovery_requests_total`,
      help: 'ListHostedZones and ListTagsForResources calls of zone sources, by source, operation and outcome (each retry counts).',
      labelNames: ['source', 'operation', 'outcome'] as const,
      registers,
    }),
    zoneLastSuccess: new Gauge({
      name: `${PREFIX}zone_last_success_timestamp_seconds`,
      help: 'Unix time of the last full read of a zone of a zone source (0: not read since start), by zone and account.',
      labelNames: ['zone', 'account'] as const,
      registers,
    }),
    sourceLastListing: new Gauge({
      name: `${PREFIX}source_last_listing_timestamp_seconds`,
      help: 'Unix time a zone source last listed its zones (ListHostedZones and tags; 0: not since start), by source and account.',
      labelNames: ['source', 'account'] as const,
      registers,
    }),
    endpointsKept: new Gauge({
      name: `${PREFIX}endpoints_kept_for_failed_zones`,
      help: 'Published endpoints kept as they are because the zone they belong to could not be read in the last poll.',
      registers,
    }),
    route53PollDuration: new Histogram({
      name: `${PREFIX}route53_poll_duration_seconds`,
      help: 'Duration of one Route53 poll over every configured zone, retries included.',
      labelNames: ['outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    recordsSkipped: new Counter({
      name: `${PREFIX}records_skipped_total`,
      help: 'Records matching the suffix that cannot be a store endpoint (wildcard, not a hostname, unsupported type), per poll.',
      labelNames: ['reason'] as const,
      registers,
    }),
    emptyResults: new Counter({
      name: `${PREFIX}empty_result_skips_total`,
      help: 'Polls that found no matching record; the published list was kept, not wiped.',
      registers,
    }),
    reconciles: new Counter({
      name: `${PREFIX}reconcile_total`,
      help: 'Reconcile passes by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    reconcileDuration: new Histogram({
      name: `${PREFIX}reconcile_duration_seconds`,
      help: 'Duration of one reconcile pass.',
      labelNames: ['outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    configMapWrites: new Counter({
      name: `${PREFIX}configmap_writes_total`,
      help: 'Writes of the Thanos ConfigMap by operation (create, update).',
      labelNames: ['operation'] as const,
      registers,
    }),
    restarts: new Counter({
      name: `${PREFIX}restarts_triggered_total`,
      help: 'Rolling restarts triggered by patching the endpoints hash into the pod template.',
      registers,
    }),
    alerts: new Counter({
      name: `${PREFIX}alerts_total`,
      help: 'Mattermost alerts by outcome (sent, failed, suppressed as a repeat, dropped unsent from a full queue or at shutdown).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    lastSuccessfulSync: new Gauge({
      name: `${PREFIX}last_successful_sync_timestamp_seconds`,
      help: 'Unix time of the last reconcile pass that left the ConfigMap equal to the Route53 records.',
      registers,
    }),
    removalsPending: new Gauge({
      name: `${PREFIX}removals_pending`,
      help: 'Endpoints gone from Route53 but still published, waiting for confirming polls.',
      registers,
    }),
    massRemovalHeld: new Gauge({
      name: `${PREFIX}mass_removal_held`,
      help: '1 while a removal of more than the allowed share of the endpoints is held.',
      registers,
    }),
    restartDeferred: new Gauge({
      name: `${PREFIX}restart_deferred`,
      help: '1 while a rolling restart waits for the minimum interval between restarts (storm guard).',
      registers,
    }),
    configMapBytes: new Gauge({
      name: `${PREFIX}configmap_bytes`,
      help: 'Size in bytes of the ConfigMap data (all keys) as last written or refused; the apiserver limit is 1048576.',
      registers,
    }),
    configMapOversize: new Counter({
      name: `${PREFIX}configmap_oversize_total`,
      help: 'ConfigMap writes refused because the object would exceed 1 MiB; the last list stays published.',
      registers,
    }),
    restartReverts: new Counter({
      name: `${PREFIX}restart_reverts_total`,
      help: 'Times the endpoints-hash annotation we patched into the pod template was reverted by someone else.',
      registers,
    }),
    restartFightStopped: new Gauge({
      name: `${PREFIX}restart_fight_stopped`,
      help: '1 while restarts are suspended because the annotation keeps being reverted (GitOps self-heal).',
      registers,
    }),
    leader: new Gauge({
      name: `${PREFIX}leader`,
      help: '1 while this replica holds the leader lease (or runs without leader election).',
      registers,
    }),
    workQueueDepth: new Gauge({ name: `${PREFIX}workqueue_depth`, help: 'Reconcile requests waiting in the work queue.', registers }),
    workQueueRetries: new Counter({
      name: `${PREFIX}workqueue_retries_total`,
      help: 'Reconcile passes retried after a failure.',
      registers,
    }),
    informerEvents: new Counter({
      name: `${PREFIX}informer_events_total`,
      help: 'Informer requests and lifecycle events by resource: list, watch (each watch request), expired (410 Gone, relist), inactive (quiet past the deadline), error (a failed list or watch, an ERROR event, a watch ended within a second with no event), callback_error (an exception from a change handler, caught).',
      labelNames: ['resource', 'event'] as const,
      registers,
    }),
    consumerMisconfigured: new Gauge({
      name: `${PREFIX}consumer_misconfigured`,
      help: '1 per reason the Thanos Deployment cannot consume the published file (mount, flags, refresh interval).',
      labelNames: ['reason'] as const,
      registers,
    }),
    deliveryEndpoints: new Gauge({
      name: `${PREFIX}delivery_endpoints`,
      help: 'Endpoints by what Thanos Query does with them (healthy, unhealthy, unseen, awaiting_rollout, unpublished), the worst over its pods.',
      labelNames: ['state'] as const,
      registers,
    }),
    deliveryLastMatch: new Gauge({
      name: `${PREFIX}delivery_last_match_timestamp_seconds`,
      help: 'Unix time of the last delivery check in which every Thanos Query pod used exactly the published stores, all healthy (0: never).',
      registers,
    }),
    deliveryReads: new Counter({
      name: `${PREFIX}delivery_reads_total`,
      help: 'Reads of /api/v1/stores from Thanos Query pods by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    informerStaleness: new Gauge({
      name: `${PREFIX}informer_staleness_seconds`,
      help: 'Seconds since the informer last heard from the Kubernetes API (a list, a watch event or bookmark).',
      labelNames: ['resource'] as const,
      registers,
      collect() {
        for (const [resource, seconds] of stalenessSources) this.set({ resource }, seconds());
      },
    }),
    watchStaleness(resource: string, seconds: () => number): void {
      stalenessSources.set(resource, seconds);
    },
    /** The standard `process_*` and `nodejs_*` metrics, unprefixed, so stock Node.js dashboards and alerts work. */
    collectDefaults(): void {
      collectDefaultMetrics({ register: registry });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
