import type { KubeApi } from '../kube/api.ts';
import type { ConfigMap, Deployment } from '../kube/types.ts';
import type { Config } from '../config.ts';
import { publishedEndpoints } from '../controller/endpoints.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
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
  const { config, api, configMap } = options;
  if (config.delivery === undefined) return undefined;
  const { namespace, configMapKey } = config;
  return new DeliveryCheck({
    ...options,
    serviceUrl: config.delivery.queryUrl,
    intervalMs: config.delivery.intervalMs,
    alertAfterMs: config.delivery.alertAfterMs,
    published: () => publishedEndpoints(configMap()?.data, configMapKey),
    listPods: async (labelSelector) => (await api.listPods(namespace, labelSelector)).items,
  });
}
