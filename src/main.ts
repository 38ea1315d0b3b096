import { AppsV1Api, CoordinationV1Api, CoreV1Api, Watch, type V1ConfigMap, type V1Deployment } from '@kubernetes/client-node';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { ConsumerMonitor } from './controller/consumer-monitor.ts';
import { SingleObjectInformer } from './controller/informer.ts';
import { LeaderElector } from './controller/leader-election.ts';
import { DesiredHosts, Reconciler } from './controller/reconciler.ts';
import { WorkQueue } from './controller/work-queue.ts';
import type { DeliveryCheck } from './delivery/delivery-check.ts';
import { createDeliveryCheck } from './delivery/wiring.ts';
import { Heartbeat, allOf, type CheckResult } from './health.ts';
import { startHttpServer } from './http-server.ts';
import { loadKubeConfig, makeApiClient } from './kube-config.ts';
import { createLogger, describeError } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { EXIT, runOnce } from './run-once.ts';
import { createConfigMapWriter } from './sinks/configmap-writer.ts';
import { createDeploymentRestarter } from './sinks/deployment-restarter.ts';
import { createEventRecorder } from './sinks/event-recorder.ts';
import { createMattermostNotifier, type Notifier } from './sinks/mattermost-notifier.ts';
import { Poller } from './sources/poller.ts';
import { createRoute53Client } from './sources/route53-client.ts';
import { createRoute53Reader } from './sources/route53-reader.ts';

const SHUTDOWN_DEADLINE_MS = 9_000;
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

  const kubeConfig = loadKubeConfig(config.developerMode);
  const core = makeApiClient(kubeConfig, CoreV1Api, KUBERNETES_REQUEST_TIMEOUT_MS);
  const apps = makeApiClient(kubeConfig, AppsV1Api, KUBERNETES_REQUEST_TIMEOUT_MS);
  const watch = new Watch(kubeConfig);
  const { namespace } = config;

  const queue = new WorkQueue({ handler: async () => void (await reconciler.reconcile()), metrics, logger });
  // A run-once pass is driven by runOnce alone: informer events must not start a second, concurrent pass.
  const onChange = config.runOnce ? () => {} : () => queue.add();
  // Set once the elector exists, as the consumer monitor below.
  let delivery: DeliveryCheck | undefined;
  const configMaps = new SingleObjectInformer<V1ConfigMap>({
    resource: 'configmap',
    namespace,
    name: config.configMapName,
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    list: (fieldSelector) => core.listNamespacedConfigMap({ namespace, fieldSelector }),
    watch,
    onChange: () => {
      onChange();
      delivery?.trigger();
    },
    logger,
    metrics,
  });
  // Set once the elector exists (a standby stays quiet); the informer only calls it after its first list.
  let consumers: ConsumerMonitor | undefined;
  const deployments: SingleObjectInformer<V1Deployment> = new SingleObjectInformer<V1Deployment>({
    resource: 'deployment',
    namespace,
    name: config.deploymentName,
    path: `/apis/apps/v1/namespaces/${namespace}/deployments`,
    list: (fieldSelector) => apps.listNamespacedDeployment({ namespace, fieldSelector }),
    watch,
    onChange: () => {
      onChange();
      void consumers?.check(deployments.get());
    },
    logger,
    metrics,
  });

  const desired = new DesiredHosts();
  const events = createEventRecorder({ core, namespace, logger });
  const reconciler = new Reconciler({
    config,
    desired,
    configMaps,
    deployments,
    writer: createConfigMapWriter({ core, namespace, name: config.configMapName, metrics, logger }),
    restarter: createDeploymentRestarter({ apps, events, namespace, name: config.deploymentName, metrics, logger }),
    notifier,
    metrics,
    logger,
  });
  const reader = createRoute53Reader({
    client: createRoute53Client(),
    zones: config.zones,
    suffix: config.recordSuffix,
    metrics,
    logger,
  });
  const reportPollError = (error: unknown) => {
    logger.error('Route53 poll failed; the published endpoints are kept', { error: describeError(error) });
    return notifier.notify({ title: 'Thanos store discovery failed to read Route53', error });
  };

  const informersStarted = Promise.all([configMaps.start(), deployments.start()]);
  if (config.runOnce) {
    await informersStarted;
    return runOnce({
      read: () => reader.read(),
      desired,
      reconciler,
      synced: () => configMaps.hasSynced() && deployments.hasSynced(),
      logger,
      notifier,
      reportPollError,
      stop: () => Promise.all([configMaps.stop(), deployments.stop()]),
    });
  }
  // Listening from here on, so a signal during start-up also ends in an orderly stop.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });

  // A poll may spend its whole retry budget before it reports (six requests of up to 20 s plus backoff: about
  // 2.2 minutes); silence beyond that means the loop is wedged.
  const heartbeat = new Heartbeat(3 * config.pollIntervalMs + 180_000);
  const poller = new Poller({
    read: (signal) => reader.read(signal),
    intervalMs: config.pollIntervalMs,
    onResult: (result) => {
      heartbeat.beat();
      desired.set(result.hosts);
      queue.add();
    },
    onError: (error) => {
      heartbeat.beat();
      void reportPollError(error);
    },
    logger,
  });
  const elector = config.leaderElection
    ? new LeaderElector({
        coordination: makeApiClient(kubeConfig, CoordinationV1Api, KUBERNETES_REQUEST_TIMEOUT_MS),
        namespace,
        name: config.leaderElection.leaseName,
        identity: config.leaderElection.identity,
        logger,
        metrics,
      })
    : undefined;
  consumers = new ConsumerMonitor({
    expectation: {
      configMapName: config.configMapName,
      configMapKey: config.configMapKey,
      format: config.outputFormat,
      restartMode: config.restartMode,
      pollIntervalMs: config.pollIntervalMs,
    },
    active: () => elector === undefined || elector.isLeader(),
    events: config.dryRun ? undefined : events,
    metrics,
    logger,
  });
  delivery = createDeliveryCheck({
    config,
    core,
    configMap: () => configMaps.get(),
    deployment: () => deployments.get(),
    active: () => elector === undefined || elector.isLeader(),
    events: config.dryRun ? undefined : events,
    notifier,
    metrics,
    logger,
  });
  const server = await startHttpServer({
    ...config.listen,
    registry: metrics.registry,
    // A standby never polls, so the poll heartbeat says nothing about it.
    healthz: () => (elector && !elector.isLeader() ? { ok: true } : heartbeat.check()),
    readyz: allOf([
      (): CheckResult => (configMaps.hasSynced() && deployments.hasSynced() ? { ok: true } : { ok: false, reason: 'informers not synced' }),
      // A standby never polls; it is ready to take over once its caches are warm.
      (): CheckResult =>
        desired.get() || (elector && !elector.isLeader()) ? { ok: true } : { ok: false, reason: 'no successful Route53 poll yet' },
    ]),
  });
  logger.info('serving /metrics, /healthz and /readyz', { port: server.port });

  // Only the leader polls: without a desired set a standby's passes decide to wait, so it never writes.
  const forever = new Promise<never>(() => {});
  const leadership = async (): Promise<'leadership lost'> => {
    if (!elector) {
      metrics.leader.set(1);
      poller.start();
      return forever;
    }
    try {
      await elector.acquire();
    } catch {
      return forever; // stopped by a signal before winning
    }
    heartbeat.beat();
    poller.start();
    return (await elector.holdUntilStopped()) === 'lost' ? 'leadership lost' : forever;
  };
  await informersStarted;
  await consumers.check(deployments.get());
  delivery?.start();

  const signal = await Promise.race([leadership(), signalled]);
  logger.info('shutting down', { signal });
  const deadline = setTimeout(() => {
    logger.error('shutdown did not finish in time, exiting', { deadlineMs: SHUTDOWN_DEADLINE_MS });
    process.exit(EXIT.failed);
  }, SHUTDOWN_DEADLINE_MS);
  deadline.unref();
  // Order matters: no new polls, then let the pass in flight finish so no write is cut in half.
  await poller.stop();
  await queue.stop();
  await delivery?.stop();
  await elector?.stop();
  await Promise.all([configMaps.stop(), deployments.stop(), server.close()]);
  logger.info('stopped');
  // Losing the lease is a failure: the pod restarts and campaigns afresh, as client-go controllers do.
  return signal === 'leadership lost' ? EXIT.failed : EXIT.ok;
}

/** Every problem on stderr, one per line, and the alert the older tool sent for bad configuration. */
async function reportBadConfig(error: ConfigError): Promise<void> {
  const logger = createLogger('info');
  logger.error('invalid configuration, not starting', { problems: error.problems });
  for (const problem of error.problems) process.stderr.write(`config error: ${problem}\n`);
  const hook = process.env['MATTERMOST_ALERTS_HOOK']?.trim();
  if (hook && URL.canParse(hook)) {
    const notifier: Notifier = createMattermostNotifier({ url: hook, metrics: createMetrics(), logger });
    await notifier.notify({ title: 'Thanos store discovery has an invalid configuration', error });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fatal: ${describeError(error)}\n`);
    process.exit(EXIT.failed);
  },
);
