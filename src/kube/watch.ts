import { Watch, type KubeConfig } from '@kubernetes/client-node';

/**
 * client-node's Watch aborts a stream after 30 s without data, which reopened every quiet watch twice a minute.
 * The informer keeps its own inactivity deadline (longer than the apiserver's one-minute bookmark interval), so the
 * library's timer is moved past it and only acts as a backstop. The field is private in the typings, not in the code.
 */
export function createWatch(kubeConfig: KubeConfig, backstopMs: number): Watch {
  const watch = new Watch(kubeConfig);
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = backstopMs;
  return watch;
}
