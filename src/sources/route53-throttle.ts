import type { Route53Client } from '@aws-sdk/client-route-53';
import pThrottle from 'p-throttle';

type Send = Pick<Route53Client, 'send'>;

/**
 * Route53's request quota is per AWS account and shared with everything else in it (external-dns, Terraform), so
 * this controller keeps to its own share: at most `maxRps` requests start in any one-second window (p-throttle's
 * strict mode, a sliding window: a burst of `maxRps`, then one request every 1/`maxRps` s). Every attempt passes
 * through here, retries included. A request still waiting for its turn when its signal aborts is never sent.
 */
export function throttleRoute53(client: Send, maxRps: number): Send {
  return route53Budget(maxRps)(client);
}

/**
 * One account's budget: every client it wraps (one per role into that account, or the pod's own) draws on the same
 * `maxRps`, since Route53 counts requests per account whatever the credentials.
 */
export function route53Budget(maxRps: number): (client: Send) => Send {
  const throttle = pThrottle({ limit: maxRps, interval: 1_000, strict: true });
  const turn = throttle((call: () => Promise<unknown>, signal: AbortSignal | undefined) => {
    signal?.throwIfAborted();
    return call();
  });
  return (client) => throughTurn(client, turn);
}

function throughTurn(client: Send, turn: (call: () => Promise<unknown>, signal: AbortSignal | undefined) => Promise<unknown>): Send {
  const throttled = (command: unknown, options: { abortSignal?: AbortSignal } | undefined) =>
    turn(() => (client.send as (command: unknown, options?: unknown) => Promise<unknown>)(command, options), options?.abortSignal);
  const send = async (command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> => {
    const signal = options?.abortSignal;
    if (!signal) return throttled(command, options);
    signal.throwIfAborted();
    // Reject at once on abort rather than when the turn comes; the turn itself then sends nothing.
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      throttled(command, options)
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', onAbort));
    });
  };
  return { send } as unknown as Send;
}
