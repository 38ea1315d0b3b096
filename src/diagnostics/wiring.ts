import type { KubeApi } from '../kube/api.ts';
import type { ConfigMap, Deployment } from '../kube/types.ts';
import type { Config } from '../config.ts';
import { publishedEndpoints } from '../format/endpoints-file.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { publishedHash, rolledHash } from '../plan/published.ts';
import type { EventRecorder } from '../sinks/event-recorder.ts';
import type { Notifier } from '../sinks/mattermost-notifier.ts';
import { ConsumerMonitor } from './consumer-monitor.ts';
import { DeliveryCheck } from './delivery-check.ts';

/** A cache the checks read and follow. */
interface Followed<T> {
  get(): T | undefined;
  onChange(listener: () => void): void;
}

/**
 * Both Thanos-side checks, following the caches: the consumer check on each Deployment change, the delivery check on
 * each ConfigMap change and on its own timer. They report from one replica (the leader, or the only one) and record
 * no Event in a dry run. `onLeading` judges afresh for a new leader; `runnables` start once the caches have listed.
 */
export function createDiagnostics(options: {
  config: Config;
  api: Pick<KubeApi, 'listPods'>;
  configMaps: Followed<ConfigMap>;
  deployments: Followed<Deployment>;
  elector: { isLeader(): boolean } | undefined;
  events: EventRecorder;
  notifier: Notifier;
  metrics: Metrics;
  logger: Logger;
}): { onLeading: () => void; runnables: DeliveryCheck[] } {
  const { config, configMaps, deployments, elector, metrics, logger } = options;
  const active = () => elector === undefined || elector.isLeader();
  const events = config.dryRun ? undefined : options.events;
  const { configMapName, configMapKey, outputFormat: format, restartMode, pollIntervalMs } = config;
  const consumers = new ConsumerMonitor({
    expectation: { configMapName, configMapKey, format, restartMode, pollIntervalMs },
    active,
    events,
    metrics,
    logger,
  });
  const delivery = createDeliveryCheck({
    config,
    api: options.api,
    configMap: () => configMaps.get(),
    deployment: () => deployments.get(),
    active,
    events,
    notifier: options.notifier,
    metrics,
    logger,
  });
  // The informer calls these only after its first list.
  const checkConsumers = () => void consumers.check(deployments.get());
  deployments.onChange(checkConsumers);
  if (delivery !== undefined) configMaps.onChange(() => delivery.trigger());
  return {
    onLeading: () => {
      checkConsumers();
      delivery?.trigger();
    },
    runnables: delivery === undefined ? [] : [delivery],
  };
}

/** The delivery check for `config`, reading what is published from the ConfigMap cache; undefined when it is off. */
export function createDeliveryCheck(options: {
  config: Config;
  api: Pick<KubeApi, 'listPods'>;
  configMap: () => ConfigMap | undefined;
  deployment: () => Deployment | undefined;
  active: () => boolean;
  events: EventRecorder | undefined;
  notifier: Notifier;
  metrics: Metrics;
  logger: Logger;
}): DeliveryCheck | undefined {
  const { config, api, configMap, deployment } = options;
  if (config.delivery === undefined) return undefined;
  const { namespace, configMapKey } = config;
  return new DeliveryCheck({
    ...options,
    serviceUrl: config.delivery.queryUrl,
    intervalMs: config.delivery.intervalMs,
    alertAfterMs: config.delivery.alertAfterMs,
    published: () => publishedEndpoints(configMap()?.data, configMapKey),
    rolloutPending: () => config.restartMode === 'annotation' && rolloutPending(configMap(), deployment()),
    listPods: async (labelSelector) => (await api.listPods(namespace, labelSelector)).items,
  });
}

/**
 * The published list has not been rolled out yet: the ConfigMap's hash is not the one on the pod template (the storm
 * guard defers the patch, or it has not been sent yet). Read from the caches, so any replica can tell.
 */
export function rolloutPending(configMap: ConfigMap | undefined, deployment: Deployment | undefined): boolean {
  const published = publishedHash(configMap);
  return published !== undefined && deployment !== undefined && published !== rolledHash(deployment);
}
