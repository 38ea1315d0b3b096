import type { KubeApi } from '../kube/api.ts';
import type { ConfigMap, Deployment } from '../kube/types.ts';
import type { Config } from '../config.ts';
import { publishedEndpoints } from '../format/endpoints-file.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { publishedHash, rolledHash } from '../plan/published.ts';
import type { EventRecorder } from '../sinks/event-recorder.ts';
import type { Notifier } from '../sinks/mattermost-notifier.ts';
import { DeliveryCheck } from './delivery-check.ts';

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
