import { connect } from 'node:net';
import { Registry } from 'prom-client';
import { startHttpServer, type RunningHttpServer } from '../../src/http-server.ts';
import { createMetrics } from '../../src/metrics.ts';

function rawRequest(port: number, requestLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`${requestLine}\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('startHttpServer', () => {
  let server: RunningHttpServer;
  let ready = { ok: false, reason: 'informers not synced' } as { ok: true } | { ok: false; reason: string };

  beforeAll(async () => {
    const metrics = createMetrics(new Registry());
    metrics.endpoints.set(3);
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      healthz: () => ({ ok: true }),
      readyz: () => ready,
    });
  });
  afterAll(() => server.close());

  const get = (path: string, method = 'GET') => fetch(`http://127.0.0.1:${server.port}${path}`, { method });

  it('serves the metrics in the Prometheus text format', async () => {
    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toContain('thanos_store_discovery_endpoints 3');
  });

  it('answers the probes with 200 or 503 and the reason', async () => {
    expect((await get('/healthz')).status).toBe(200);
    const notReady = await get('/readyz?verbose');
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toBe('informers not synced\n');
    ready = { ok: true };
    expect((await get('/readyz')).status).toBe(200);
  });

  it.each([
    ['/nothing', 'GET', 404],
    ['/metrics', 'POST', 405],
  ])('%s by %s -> %d', async (path, method, status) => {
    expect((await get(path, method)).status).toBe(status);
  });

  it('survives a malformed request target and keeps serving', async () => {
    expect(await rawRequest(server.port, 'GET http://[ HTTP/1.1')).toMatch(/^HTTP\/1\.1 404/);
    expect((await get('/healthz')).status).toBe(200);
  });
});
