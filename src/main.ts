// First: the stop signals are caught from here on, before the other modules load (see stop-signals.ts).
import { stopRequested } from './stop-signals.ts';
import { ConfigError, hookUrlProblem, loadConfig, type Config, type SourcesConfig } from './config.ts';
import { ConsumerMonitor } from './diagnostics/consumer-monitor.ts';
import { SingleObjectInformer } from './controller/informer.ts';
import { LeaderElector } from './controller/leader-election.ts';
import { DesiredHosts } from './controller/desired-hosts.ts';
import { Reconciler } from './controller/reconciler.ts';
import { publishedState } from './plan/published.ts';
import { WorkQueue } from './controller/work-queue.ts';
import { createDeliveryCheck } from './diagnostics/delivery-wiring.ts';
import { Heartbeat } from './health.ts';
import { startHttpServer } from './http-server.ts';
import { configMapsPath, createKubeApi, deploymentsPath } from './kube/api.ts';
import { loadKubeConfig } from './kube/config.ts';
import { createWatch } from './kube/watch.ts';
import type { ConfigMap, Deployment } from './kube/types.ts';
import { createLogger, describeError, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { Lifecycle } from './controller/lifecycle.ts';
import { guardWrites, WriteFence } from './controller/fence.ts';
import { EXIT, runOnce } from './controller/run-once.ts';
import { createConfigMapWriter } from './sinks/configmap-writer.ts';
import { createDeploymentRestarter } from './sinks/deployment-restarter.ts';
import { createEventRecorder } from './sinks/event-recorder.ts';
import { createMattermostNotifier } from './sinks/mattermost-notifier.ts';
import { Poller } from './sources/poller.ts';
import { createRoute53Client } from './sources/route53-client.ts';
import { createRoute53Reader } from './sources/route53-reader.ts';
import { throttleRoute53 } from './sources/route53-throttle.ts';
import { createSourceClients } from './sources/aws-accounts.ts';
import { createSourcesReader } from './sources/zone-sources.ts';
import type { ZoneSource } from './sources/zone-sources-config.ts';
import { createPartialReader } from './sources/partial-reads.ts';

const SHUTDOWN_DEADLINE_MS = 9_000;
// How long an exit waits for queued alerts (a failure found just before it included); inside the shutdown deadline.
const ALERT_FLUSH_DEADLINE_MS = 3_000;
// One object per call, on the cluster's own network: anything slower is a hung connection.
const KUBERNETES_REQUEST_TIMEOUT_MS = 5_000;
// A watch that gets no data for this long is ended by client-node; the informer replaces a quiet one sooner (150 s).
const WATCH_IDLE_TIMEOUT_MS = 180_000;

async function main(): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    await reportBadConfig(error);
    return EXIT.badConfig;
  }
  const logger = createLogger(config.logLevel);
  // A library promise nobody awaits must not kill the process mid-pass; it is a bug to log, not a reason to die.
  process.on('unhandledRejection', (reason) => logger.error('unhandled promise rejection', { error: describeError(reason) }));
  const metrics = createMetrics();
  metrics.collectDefaults();
  const notifier = createMattermostNotifier({ url: config.alertsHook, metrics, logger, repeatIntervalMs: config.alertRepeatMs });
  logger.info('starting', {
    zones: config.zones,
    sources: config.sources?.list.map((source) => source.name),
    namespace: config.namespace,
    configMap: config.configMapName,
    deployment: config.deploymentName,
    pollIntervalMs: config.pollIntervalMs,
    restartMode: config.restartMode,
    outputFormat: config.outputFormat,
    dryRun: config.dryRun,
    runOnce: config.runOnce,
    alerts: config.alertsHook ? 'on' : 'off (MATTERMOST_ALERTS_HOOK unset)',
    deliveryCheck: config.delivery ? 'on' : 'off (THANOS_QUERY_URL unset)',
  });

  const kubeConfig = loadKubeConfig(config.developerMode);
  // Aborts every Kubernetes call still in flight once the controller has stopped in order.
  const kubeStopped = new AbortController();
  const api = createKubeApi(kubeConfig, { timeoutMs: KUBERNETES_REQUEST_TIMEOUT_MS, signal: kubeStopped.signal });
  const watch = createWatch(kubeConfig, { idleTimeoutMs: WATCH_IDLE_TIMEOUT_MS });
  const { namespace } = config;

  const queue = new WorkQueue({ handler: async () => void (await reconciler.reconcile()), metrics, logger });
  // A run-once pass is driven by runOnce alone: informer events must not start a second, concurrent pass.
  const onChange = config.runOnce ? () => {} : () => queue.add();
  const configMaps = new SingleObjectInformer<ConfigMap>({
    resource: 'configmap',
    namespace,
    name: config.configMapName,
    path: configMapsPath(namespace),
    list: (fieldSelector) => api.listConfigMaps(namespace, fieldSelector),
    watch,
    onChange: () => {
      onChange();
      // Declared below, with the elector it asks, like the consumer monitor.
      delivery?.trigger();
    },
    logger,
    metrics,
    timing: { maxStalenessMs: config.informerMaxStalenessMs },
  });
  const deployments: SingleObjectInformer<Deployment> = new SingleObjectInformer<Deployment>({
    resource: 'deployment',
    namespace,
    name: config.deploymentName,
    path: deploymentsPath(namespace),
    list: (fieldSelector) => api.listDeployments(namespace, fieldSelector),
    watch,
    onChange: () => {
      onChange();
      // Declared below, with the elector it asks; the informer calls this only after its first list.
      void consumers.check(deployments.get());
    },
    logger,
    metrics,
    timing: { maxStalenessMs: config.informerMaxStalenessMs },
  });

  // A run-once pass is one short job, as the CronJob was: it never campaigns.
  const elector =
    config.leaderElection && !config.runOnce
      ? new LeaderElector({
          api,
          namespace,
          name: config.leaderElection.leaseName,
          identity: config.leaderElection.identity,
          logger,
          metrics,
        })
      : undefined;
  const fence = new WriteFence(elector);
  const guard = guardWrites(() => fence.mayWrite());
  const published = () => publishedState(configMaps.get(), config.configMapKey);
  const desired = new DesiredHosts({
    policy: config.removal,
    // The first read starts from the published list only once the cache holds it: never from a cache still empty.
    seed: { synced: () => configMaps.hasSynced(), published },
    metrics,
    logger,
    notifier,
  });
  const events = createEventRecorder({ api, namespace, logger });
  // The consumer monitor and the delivery check report from one replica, and record no Event in a dry run.
  const leads = () => elector === undefined || elector.isLeader();
  const reportEvents = config.dryRun ? undefined : events;
  const consumers = new ConsumerMonitor({
    expectation: {
      configMapName: config.configMapName,
      configMapKey: config.configMapKey,
      format: config.outputFormat,
      restartMode: config.restartMode,
      pollIntervalMs: config.pollIntervalMs,
    },
    active: leads,
    events: reportEvents,
    metrics,
    logger,
  });
  const delivery = createDeliveryCheck({
    config,
    api,
    configMap: () => configMaps.get(),
    deployment: () => deployments.get(),
    active: leads,
    events: reportEvents,
    notifier,
    metrics,
    logger,
  });
  const reconciler = new Reconciler({
    config,
    desired,
    requeueAfter: (ms) => queue.addAfter(ms),
    mayWrite: () => fence.mayWrite(),
    configMaps,
    deployments,
    writer: createConfigMapWriter({ api, namespace, name: config.configMapName, metrics, logger, guard }),
    restarter: createDeploymentRestarter({ api, events, namespace, name: config.deploymentName, metrics, logger, guard }),
    notifier,
    metrics,
    logger,
  });
  const reader =
    config.sources === undefined
      ? createRoute53Reader({
          client: throttleRoute53(createRoute53Client(), config.route53MaxRps),
          zones: config.zones,
          suffix: config.recordSuffix,
          metrics,
          logger,
        })
      : createPartialReader({
          read: zoneSourcesReader(config, config.sources, metrics, logger),
          published: () => desired.get() ?? published()?.hosts ?? [],
          metrics,
          logger,
          notifier,
        });
  const reportPollError = (error: unknown) => {
    logger.error('Route53 poll failed; the published endpoints are kept', { error: describeError(error) });
    notifier.notify({ title: 'Thanos store discovery failed to read Route53', error });
  };

  const informersStarted = Promise.all([configMaps.start(), deployments.start()]);
  if (config.runOnce) {
    return runOnce({
      started: informersStarted,
      stopRequested,
      stopWriting: () => fence.close(),
      read: () => reader.read(),
      desired,
      reconciler,
      synced: () => configMaps.hasSynced() && deployments.hasSynced(),
      logger,
      notifier,
      reportPollError,
      stop: () => Promise.all([configMaps.stop(), deployments.stop(), notifier.stop(ALERT_FLUSH_DEADLINE_MS)]),
    });
  }
  // A poll may spend its whole retry budget before it reports (six requests of up to 20 s plus backoff: about
  // 2.2 minutes); silence beyond that means the loop is wedged.
  const heartbeat = new Heartbeat(3 * config.pollIntervalMs + 180_000);
  const poller = new Poller({
    read: (signal) => reader.read(signal),
    intervalMs: config.pollIntervalMs,
    onResult: (result) => {
      heartbeat.beat();
      desired.update(result.hosts);
      queue.add();
    },
    onError: (error) => {
      heartbeat.beat();
      reportPollError(error);
    },
    logger,
  });
  const lifecycle = new Lifecycle({
    elector,
    fence,
    poller,
    queue,
    closeAll: async () => {
      await delivery?.stop();
      await Promise.all([configMaps.stop(), deployments.stop(), server.close(), notifier.stop(ALERT_FLUSH_DEADLINE_MS)]);
      kubeStopped.abort(new Error('the controller stopped'));
    },
    heartbeat,
    // Each informer is ready once it has listed, and stays so while it keeps hearing from the API server.
    readiness: [() => configMaps.check(), () => deployments.check()],
    hasDesired: () => desired.get() !== undefined,
    onLeading: () => {
      void consumers.check(deployments.get());
      delivery?.trigger();
    },
    shutdownDeadlineMs: SHUTDOWN_DEADLINE_MS,
    onDeadline: () => process.exit(EXIT.failed),
    logger,
    metrics,
  });
  const server = await startHttpServer({
    ...config.listen,
    registry: metrics.registry,
    healthz: () => lifecycle.healthz(),
    readyz: () => lifecycle.readyz(),
  });
  logger.info('serving /metrics, /healthz and /readyz', { port: server.port });
  await informersStarted;
  delivery?.start();

  const ending = await lifecycle.run(stopRequested);
  // Losing the lease is a failure: the pod restarts and campaigns afresh, as client-go controllers do.
  return ending.reason === 'leadership lost' ? EXIT.failed : EXIT.ok;
}

/** Zone sources, with the zones of PRIVATE_HOSTED_ZONE_ID as one more, read with the pod's own credentials. */
function zoneSourcesReader(config: Config, sources: SourcesConfig, metrics: Metrics, logger: Logger) {
  const list: ZoneSource[] = [
    ...sources.list,
    ...(config.zones.length === 0
      ? []
      : [{ name: 'PRIVATE_HOSTED_ZONE_ID', role: undefined, zoneIds: config.zones, domains: [], tags: {}, includePublic: false }]),
  ];
  const reader = createSourcesReader({
    sources: list,
    clients: createSourceClients(list, { maxRps: config.route53MaxRps, sessionName: sources.roleSessionName, own: createRoute53Client() }),
    discoveryEveryPolls: sources.discoveryEveryPolls,
    suffix: config.recordSuffix,
    metrics,
    logger,
  });
  return (signal: AbortSignal) => reader.read(signal);
}

/** Every problem on stderr, one per line, and the alert the older tool sent for bad configuration. */
async function reportBadConfig(error: ConfigError): Promise<void> {
  const logger = createLogger('info');
  logger.error('invalid configuration, not starting', { problems: error.problems });
  for (const problem of error.problems) process.stderr.write(`config error: ${problem}\n`);
  const hook = process.env['MATTERMOST_ALERTS_HOOK']?.trim();
  if (hook && hookUrlProblem(hook) === undefined) {
    const notifier = createMattermostNotifier({ url: hook, metrics: createMetrics(), logger });
    notifier.notify({ title: 'Thanos store discovery has an invalid configuration', error });
    await notifier.stop(ALERT_FLUSH_DEADLINE_MS);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fatal: ${describeError(error)}\n`);
    process.exit(EXIT.failed);
  },
);
