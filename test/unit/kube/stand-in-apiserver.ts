// A real local HTTP server standing in for the Kubernetes API server, for tests that must run the controller's
// client over a real socket: lists answered from a queue, each watch request answered by the next script (the same
// bytes, the same writes, as a misbehaving apiserver or proxy would send).
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeApi, type KubeApi } from '../../../src/kube/api.ts';
import { createWatch } from '../../../src/kube/watch.ts';
import type { WatchFn } from '../../../src/kube/watch.ts';

export interface StandInRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  watch: boolean;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Writes (and may end) the answer to one watch request. */
export type WatchScript = (response: ServerResponse) => void;

/** One line of a watch stream. */
export const watchLine = (type: string, object: unknown): string => `${JSON.stringify({ type, object })}\n`;

/** A Status object as the apiserver sends it in an ERROR event or an error answer. */
export const status = (code: number, reason: string, message = reason) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  code,
  reason,
  message,
});

/** 200 and the stream's head; the script writes the rest. */
export function streamHead(response: ServerResponse): void {
  response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  response.flushHeaders();
}

/** A watch that stays open and quiet until the client goes away. */
export const hold: WatchScript = (response) => streamHead(response);

export interface StandInApiServer {
  readonly url: string;
  readonly requests: StandInRequest[];
  /** Bodies for the next list requests; the last one keeps answering once the others are used. */
  readonly lists: object[];
  /** Scripts for the next watch requests; `hold` once they are used. */
  readonly watches: WatchScript[];
  /** Answers every request that is neither a list nor a watch; by default 404. */
  other: (request: StandInRequest, response: ServerResponse) => void;
  watchRequests(): StandInRequest[];
  listRequests(): StandInRequest[];
  /** Watch streams the client still holds open. */
  openWatches(): number;
  close(): Promise<void>;
}

export async function startStandInApiServer(): Promise<StandInApiServer> {
  const requests: StandInRequest[] = [];
  const lists: object[] = [];
  const watches: WatchScript[] = [];
  const open = new Set<ServerResponse>();
  let lastList: object | undefined;
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://stand-in');
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      // Only API paths (behind any proxy prefix) are the client's. The OS reuses ports, and a Prometheus of a
      // concurrent test may still scrape this port's former owner: a stray `/metrics` is answered 404, not recorded.
      if (!/\/apis?\//.test(url.pathname)) {
        response.writeHead(404).end();
        return;
      }
      const seen: StandInRequest = {
        method: request.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        watch: url.searchParams.get('watch') === 'true',
        headers: request.headers,
        body,
      };
      requests.push(seen);
      if (seen.watch) {
        open.add(response);
        response.on('close', () => open.delete(response));
        (watches.shift() ?? hold)(response);
      } else if (request.method === 'GET' && url.searchParams.has('fieldSelector')) {
        lastList = lists.shift() ?? lastList;
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(lastList ?? { kind: 'List', items: [], metadata: { resourceVersion: '1' } }));
      } else {
        api.other(seen, response);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const api: StandInApiServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    lists,
    watches,
    other: (_request, response) => {
      response.writeHead(404, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(status(404, 'NotFound')));
    },
    watchRequests: () => requests.filter((request) => request.watch),
    listRequests: () => requests.filter((request) => !request.watch && request.query.has('fieldSelector')),
    openWatches: () => open.size,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return api;
}

/**
 * Waits for `condition`, letting real I/O run between checks (one event-loop turn each), so it works while the
 * timers are fake. Gives up after a fixed number of turns, not after a time: a loaded machine only takes longer.
 */
export async function until(condition: () => boolean, what: string, turns = 200_000): Promise<void> {
  for (let turn = 0; turn < turns; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Lets pending I/O and callbacks run for a number of event-loop turns. */
export async function drain(turns = 2_000): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** A kubeconfig for the stand-in: plain HTTP (client-node allows it only with insecure-skip-tls-verify), no user. */
export function standInKubeConfig(url: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromClusterAndUser({ name: 'stand-in', server: url, skipTLSVerify: true }, { name: 'nobody' });
  return kubeConfig;
}

/** The controller's Kubernetes client for the stand-in, made as src/main.ts makes it. */
export function standInClient(
  url: string,
  limits: { timeoutMs?: number; signal?: AbortSignal; idleTimeoutMs?: number } = {},
): { api: KubeApi; watch: WatchFn } {
  const kubeConfig = standInKubeConfig(url);
  return {
    api: createKubeApi(kubeConfig, { timeoutMs: limits.timeoutMs ?? 5_000, ...(limits.signal ? { signal: limits.signal } : {}) }),
    watch: createWatch(kubeConfig, { idleTimeoutMs: limits.idleTimeoutMs ?? 180_000 }),
  };
}
