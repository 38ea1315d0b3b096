import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { toKubeApiError } from './client.ts';

/** A watch (client-node's Watch, below): events go to `onEvent`, `done` is called once when the stream ends or fails. */
export interface WatchFn {
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController>;
}

/**
 * client-node's Watch as the informer's WatchFn; a refused watch ends with a KubeApiError, as the other calls fail.
 *
 * client-node ends a watch that receives no data for `requestTimeoutMs`, a private field at 30 s by default: shorter
 * than the apiserver's bookmark interval (about a minute), so a quiet watch would be cut every 30 s. It is set to
 * `idleTimeoutMs`, longer than the informer's own inactivity deadline, so it only ends a request whose answer never
 * began. test/unit/kube/watch.test.ts fails if a client-node release stops honouring it.
 */
export function createWatch(kubeConfig: KubeConfig, options: { idleTimeoutMs: number }): WatchFn {
  const watch = new Watch(kubeConfig);
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = options.idleTimeoutMs;
  return {
    watch: (path, query, onEvent, done) =>
      watch.watch(
        path,
        query,
        (type: string, object: unknown) => onEvent(type, object),
        (error: unknown) => done(error ? toKubeApiError(error) : error),
      ),
  };
}
