// First: the stop signals are caught from here on, before the other modules load (see stop-signals.ts).
import { stopRequested } from './stop-signals.ts';
import { ConfigError, hookUrlProblem, loadConfig, type Config } from './config.ts';
import { ConsumerMonitor } from './controller/consumer-monitor.ts';
import { publishedEndpoints } from './controller/endpoints.ts';
import { SingleObjectInformer } from './controller/informer.ts';
import { LeaderElector } from './controller/leader-election.ts';
import { DesiredHosts } from './controller/desired-hosts.ts';
import { PENDING_REMOVALS_ANNOTATION, Reconciler } from './controller/reconciler.ts';
import { parseMissing, type DesiredState } from './plan/desired-set.ts';
import { WorkQueue } from './controller/work-queue.ts';
import { createDeliveryCheck } from './delivery/wiring.ts';
import { Heartbeat } from './health.ts';
import { startHttpServer } from './http-server.ts';
import { configMapsPath, createKubeApi, deploymentsPath } from './kube/api.ts';
import { KubeClient } from './kube/client.ts';
import { loadConnection } from './kube/connection.ts';
import type { ConfigMap, Deployment } from './kube/types.ts';
import { createLogger, describeError } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { Lifecycle, WriteFence } from './lifecycle.ts';
import { EXIT, runOnce } from './run-once.ts';
import { createConfigMapWriter } from './sinks/configmap-writer.ts';
import { createDeploymentRestarter } from './sinks/deployment-restarter.ts';
import { createEventRecorder } from './sinks/event-recorder.ts';
import { createMattermostNotifier } from './sinks/mattermost-notifier.ts';
import { Poller } from './sources/poller.ts';
import { createRoute53Client } from './sources/route53-client.ts';
import { createRoute53Reader } from './sources/route53-reader.ts';
import { throttleRoute53 } from './sources/route53-throttle.ts';

const SHUTDOWN_DEADLINE_MS = 9_000;
// How long an exit waits for queued alerts (a failure found just before it included); inside the shutdown deadline.
const ALERT_FLUSH_DEADLINE_MS = 3_000;
// One object per call, on the cluster's own network: anything slower is a hung connection.
const KUBERNETES_REQUEST_TIMEOUT_MS = 5_000;

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

  const kube = new KubeClient(loadConnection(config.developerMode), { timeoutMs: KUBERNETES_REQUEST_TIMEOUT_MS });
  const api = createKubeApi(kube);
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
    watch: kube,
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
    watch: kube,
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
  const desired = new DesiredHosts({ policy: config.removal, metrics, logger, notifier });
  const published = () => publishedState(configMaps.get(), config.configMapKey);
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
    writer: createConfigMapWriter({ api, namespace, name: config.configMapName, metrics, logger }),
    restarter: createDeploymentRestarter({ api, events, namespace, name: config.deploymentName, metrics, logger }),
    notifier,
    metrics,
    logger,
  });
  const reader = createRoute53Reader({
    client: throttleRoute53(createRoute53Client(), config.route53MaxRps),
    zones: config.zones,
    suffix: config.recordSuffix,
    metrics,
    logger,
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
      published,
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
      desired.update(result.hosts, published);
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
    },
    heartbeat,
    // Each informer is ready once it has listed, and stays so while it keeps hearing from the API server.
    readiness: [() => configMaps.check(), () => deployments.check()],
    hasDesired: () => desired.get() !== undefined,
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
  await consumers.check(deployments.get());
  delivery?.start();

  const ending = await lifecycle.run(stopRequested);
  // Losing the lease is a failure: the pod restarts and campaigns afresh, as client-go controllers do.
  return ending.reason === 'leadership lost' ? EXIT.failed : EXIT.ok;
}

/** What the ConfigMap publishes now: hosts without ports and the removals it carries; undefined when unreadable or empty. */
function publishedState(configMap: ConfigMap | undefined, key: string): DesiredState | undefined {
  const endpoints = publishedEndpoints(configMap?.data, key);
  if (endpoints === undefined || endpoints.length === 0) return undefined;
  const hosts = [...new Set(endpoints.map((endpoint) => endpoint.slice(0, endpoint.lastIndexOf(':'))))].sort();
  return { hosts, missing: parseMissing(configMap?.metadata?.annotations?.[PENDING_REMOVALS_ANNOTATION], hosts) };
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
