import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { CheckResult } from './health.ts';

export interface HttpServerOptions {
  host: string | undefined;
  port: number;
  registry: Registry;
  healthz: () => CheckResult;
  readyz: () => CheckResult;
}

export interface RunningHttpServer {
  port: number;
  close(): Promise<void>;
}

/** `/metrics` for Prometheus, `/healthz` and `/readyz` for the kubelet; nothing else. */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const server = createServer((request, response) => {
    // Split rather than `new URL`: a malformed request line must get a 404, not throw in the listener and kill us.
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (error: Error) => response.writeHead(500).end(`metrics failed: ${error.message}\n`),
      );
      return;
    }
    const check = path === '/healthz' ? options.healthz : path === '/readyz' ? options.readyz : undefined;
    if (!check) {
      response.writeHead(404).end('not found\n');
      return;
    }
    const result = check();
    response.writeHead(result.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(result.ok ? 'ok\n' : `${result.reason}\n`);
  });
  await listen(server, options.port, options.host);
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
