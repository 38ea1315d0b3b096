// First: the stop signals are caught from here on, before the other modules load (see stop-signals.ts).
import { stopRequested } from './stop-signals.ts';
import { ConfigError, configSummary, loadConfig, type Config } from './config.ts';
import { DesiredHosts } from './controller/desired-hosts.ts';
import { guardWrites, WriteFence } from './controller/fence.ts';
import { SingleObjectInformer, type WatchedObject } from './controller/informer.ts';
import { LeaderElector } from './controller/leader-election.ts';
import { EXIT, exitCode, Manager } from './controller/manager.ts';
import { Reconciler } from './controller/reconciler.ts';
import { runOnce, type RunOnceParts } from './controller/run-once.ts';
import { WorkQueue } from './controller/work-queue.ts';
import { createDiagnostics } from './diagnostics/wiring.ts';
import { Heartbeat } from './health.ts';
import { startHttpServer } from './http-server.ts';
import { configMapsPath, createKubeApi, deploymentsPath, type KubeApi } from './kube/api.ts';
import { loadKubeConfig } from './kube/config.ts';
import { createWatch } from './kube/watch.ts';
import type { ConfigMap, Deployment, ObjectList } from './kube/types.ts';
import { createLogger, describeError, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { publishedState } from './plan/published.ts';
import { reportBadConfig } from './sinks/bad-config-alert.ts';
import { createConfigMapWriter } from './sinks/configmap-writer.ts';
import { createDeploymentRestarter } from './sinks/deployment-restarter.ts';
import { createEventRecorder, type EventRecorder } from './sinks/event-recorder.ts';
import { ALERT_FLUSH_DEADLINE_MS, createMattermostNotifier, type Notifier } from './sinks/mattermost-notifier.ts';
import { createSourceClients } from './sources/aws-accounts.ts';
import { createPartialReader } from './sources/partial-reads.ts';
import { pollSilenceBudgetMs, Poller } from './sources/poller.ts';
import { createRoute53Client } from './sources/route53-client.ts';
import { createRoute53Reader, type Route53ReadResult } from './sources/route53-reader.ts';
import { throttleRoute53 } from './sources/route53-throttle.ts';
import { withOwnZones } from './sources/zone-sources-config.ts';
import { createSourcesReader } from './sources/zone-sources.ts';

const SHUTDOWN_DEADLINE_MS = 9_000;
// One object per call, on the cluster's own network: anything slower is a hung connection.
const KUBERNETES_REQUEST_TIMEOUT_MS = 5_000;
// A watch that gets no data for this long is ended by client-node; the informer replaces a quiet one sooner (150 s).
const WATCH_IDLE_TIMEOUT_MS = 180_000;

/** Loads the configuration, builds the parts, runs them (once, or under the manager) and returns the exit code. */
async function main(): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    await reportBadConfig(error, process.env);
    return EXIT.badConfig;
  }
  const logger = createLogger(config.logLevel);
  // A library promise nobody awaits must not kill the process mid-pass; it is a bug to log, not a reason to die.
  process.on('unhandledRejection', (reason) => logger.error('unhandled promise rejection', { error: describeError(reason) }));
  logger.info('starting', configSummary(config));
  const parts = wireParts(config, logger);
  if (config.runOnce) return runOnce(runOnceParts(parts));
  return exitCode(await buildManager(parts).run(stopRequested));
}

type Parts = ReturnType<typeof wireParts>;

/** Every part, each built after what it uses. */
function wireParts(config: Config, logger: Logger) {
  const metrics = createMetrics();
  metrics.collectDefaults();
  const notifier = createMattermostNotifier({ url: config.alertsHook, metrics, logger, repeatIntervalMs: config.alertRepeatMs });
  const kube = wireKube(config);
  const caches = wireCaches(config, kube, metrics, logger);
  // A run-once pass is one short job, as the CronJob was: it never campaigns.
  const lease = config.runOnce ? undefined : config.leaderElection;
  const elector =
    lease &&
    new LeaderElector({ api: kube.api, namespace: config.namespace, name: lease.leaseName, identity: lease.identity, logger, metrics });
  const fence = new WriteFence(elector);
  const published = () => publishedState(caches.configMaps.get(), config.configMapKey);
  // The first read starts from the published list only once the cache holds it: never from a cache still empty.
  const seed = { synced: () => caches.configMaps.hasSynced(), published };
  const desired = new DesiredHosts({ policy: config.removal, seed, metrics, logger, notifier });
  const events = createEventRecorder({ api: kube.api, namespace: config.namespace, logger });
  const effects = { api: kube.api, events, fence, notifier, metrics, logger };
  const reconciler = wireReconciler(config, caches, desired, effects);
  const reader = wireReader(config, () => desired.publishedHosts(), { notifier, metrics, logger });
  const diagnostics = createDiagnostics({ config, api: kube.api, ...caches, elector, events, notifier, metrics, logger });
  return { config, logger, metrics, notifier, kube, caches, elector, fence, desired, reconciler, reader, diagnostics };
}

function wireKube(config: Config) {
  const kubeConfig = loadKubeConfig(config.developerMode);
  // Aborts every Kubernetes call still in flight once the controller has stopped in order.
  const stopped = new AbortController();
  return {
    api: createKubeApi(kubeConfig, { timeoutMs: KUBERNETES_REQUEST_TIMEOUT_MS, signal: stopped.signal }),
    watch: createWatch(kubeConfig, { idleTimeoutMs: WATCH_IDLE_TIMEOUT_MS }),
    abort: () => stopped.abort(new Error('the controller stopped')),
  };
}

/** The two objects a pass reads, each from its own informer. */
function wireCaches(config: Config, kube: ReturnType<typeof wireKube>, metrics: Metrics, logger: Logger) {
  const { namespace } = config;
  const { api, watch } = kube;
  const timing = { maxStalenessMs: config.informerMaxStalenessMs };
  const informer = <T extends WatchedObject>(
    resource: string,
    name: string,
    path: string,
    list: (fieldSelector: string) => Promise<ObjectList<T>>,
  ) => new SingleObjectInformer<T>({ resource, namespace, name, path, list, watch, logger, metrics, timing });
  return {
    configMaps: informer<ConfigMap>('configmap', config.configMapName, configMapsPath(namespace), (fieldSelector) =>
      api.listConfigMaps(namespace, fieldSelector),
    ),
    deployments: informer<Deployment>('deployment', config.deploymentName, deploymentsPath(namespace), (fieldSelector) =>
      api.listDeployments(namespace, fieldSelector),
    ),
  };
}

interface Effects {
  api: KubeApi;
  events: EventRecorder;
  fence: WriteFence;
  notifier: Notifier;
  metrics: Metrics;
  logger: Logger;
}

/** The pass, and the two sinks it writes through, each request behind the write fence. */
function wireReconciler(config: Config, caches: ReturnType<typeof wireCaches>, desired: DesiredHosts, effects: Effects) {
  const { api, events, fence, notifier, metrics, logger } = effects;
  const { namespace } = config;
  const guard = guardWrites(() => fence.mayWrite());
  return new Reconciler({
    config,
    desired,
    mayWrite: () => fence.mayWrite(),
    ...caches,
    writer: createConfigMapWriter({ api, namespace, name: config.configMapName, metrics, logger, guard }),
    restarter: createDeploymentRestarter({ api, events, namespace, name: config.deploymentName, metrics, logger, guard }),
    notifier,
    metrics,
    logger,
  });
}

/** Route53: the zones of PRIVATE_HOSTED_ZONE_ID alone, or zone sources read zone by zone with the partial-read rule. */
function wireReader(
  config: Config,
  published: () => readonly string[],
  { notifier, metrics, logger }: { notifier: Notifier; metrics: Metrics; logger: Logger },
): { read(signal?: AbortSignal): Promise<Route53ReadResult> } {
  const { sources, zones, recordSuffix: suffix, route53MaxRps: maxRps } = config;
  if (sources === undefined) {
    return createRoute53Reader({ client: throttleRoute53(createRoute53Client(), maxRps), zones, suffix, metrics, logger });
  }
  const list = withOwnZones(sources.list, zones);
  const clients = createSourceClients(list, { maxRps, sessionName: sources.roleSessionName, own: createRoute53Client() });
  const reader = createSourcesReader({ sources: list, clients, discoveryEveryPolls: sources.discoveryEveryPolls, suffix, metrics, logger });
  return createPartialReader({ read: (signal) => reader.read(signal), published, metrics, logger, notifier });
}

/** The long-running controller: the poll loop feeds the desired set and asks the queue for a pass. */
function buildManager(parts: Parts): Manager {
  const { config, logger, metrics, notifier, caches, desired, reconciler, reader, diagnostics } = parts;
  const heartbeat = new Heartbeat(pollSilenceBudgetMs(config.pollIntervalMs));
  const queue = new WorkQueue({ handler: (requeueAfter) => reconciler.reconcile(requeueAfter), metrics, logger });
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
      desired.readFailed(error);
    },
    logger,
  });
  return new Manager({
    elector: parts.elector,
    fence: parts.fence,
    caches: [caches.configMaps, caches.deployments],
    serve: async (probes) => {
      const server = await startHttpServer({
        ...config.listen,
        registry: metrics.registry,
        healthz: () => probes.healthz(),
        readyz: () => probes.readyz(),
      });
      logger.info('serving /metrics, /healthz and /readyz', { port: server.port });
      return server;
    },
    background: diagnostics.runnables,
    poller,
    queue,
    heartbeat,
    // Each informer is ready once it has listed, and stays so while it keeps hearing from the API server.
    readiness: [() => caches.configMaps.check(), () => caches.deployments.check()],
    hasDesired: () => desired.get() !== undefined,
    onLeading: diagnostics.onLeading,
    flush: () => notifier.stop(ALERT_FLUSH_DEADLINE_MS),
    abort: parts.kube.abort,
    shutdownDeadlineMs: SHUTDOWN_DEADLINE_MS,
    onDeadline: () => process.exit(EXIT.failed),
    logger,
    metrics,
  });
}

/** The CronJob's way: one read, one pass, no poll loop, no queue, no election. */
function runOnceParts(parts: Parts): RunOnceParts {
  const { caches, desired, notifier } = parts;
  const informers = [caches.configMaps, caches.deployments];
  return {
    started: Promise.all(informers.map((informer) => informer.start())),
    stopRequested,
    stopWriting: () => parts.fence.close(),
    read: () => parts.reader.read(),
    desired,
    reconciler: parts.reconciler,
    synced: () => informers.every((informer) => informer.hasSynced()),
    logger: parts.logger,
    notifier,
    stop: () => Promise.all([...informers.map((informer) => informer.stop()), notifier.stop(ALERT_FLUSH_DEADLINE_MS)]),
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fatal: ${describeError(error)}\n`);
    process.exit(EXIT.failed);
  },
);
