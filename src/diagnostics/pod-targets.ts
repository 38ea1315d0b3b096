import { isIPv6 } from 'node:net';
import type { Deployment, Pod } from '../kube/types.ts';

/** Where to read `/api/v1/stores`: each running Thanos Query pod by its IP, on the Service URL's port and path. */
export interface Target {
  source: string;
  url: string;
}

/** `matchLabels` of the Deployment's selector as a label selector; undefined when it has none we can use. */
export function podSelector(deployment: Deployment | undefined): string | undefined {
  const selector = deployment?.spec?.selector;
  const labels = Object.entries(selector?.matchLabels ?? {});
  // matchExpressions need a translation we do not make; an empty selector would list every pod.
  if (labels.length === 0 || (selector?.matchExpressions?.length ?? 0) > 0) return undefined;
  return labels.map(([key, value]) => `${key}=${value}`).join(',');
}

export function podTargets(pods: readonly Pod[], serviceUrl: string): Target[] {
  const targets: Target[] = [];
  for (const pod of pods) {
    const ip = pod.status?.podIP;
    if (pod.status?.phase !== 'Running' || !ip || pod.metadata?.deletionTimestamp) continue;
    const url = new URL(serviceUrl);
    url.hostname = isIPv6(ip) ? `[${ip}]` : ip;
    targets.push({ source: `pod/${pod.metadata?.name ?? ip}`, url: url.toString() });
  }
  return targets.sort((x, y) => (x.source < y.source ? -1 : 1));
}
