import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKubeApi } from '../../../src/kube/api.ts';
import { KubeApiError, KubeClient } from '../../../src/kube/client.ts';
import type { KubeConnection } from '../../../src/kube/connection.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local HTTP server standing in for the apiserver: it records each request and answers with `answer`. */
describe('KubeClient against a local HTTP server', () => {
  let server: Server;
  const seen: Seen[] = [];
  let answer: (response: ServerResponse, request: Seen) => void = () => {};

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        const entry = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body };
        seen.push(entry);
        answer(response, entry);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    seen.length = 0;
    answer = (response) => json(response, 200, { kind: 'Status' });
  });

  function client(timeoutMs = 2_000, token = 'test-token', serverPath = ''): KubeClient {
    const connection: KubeConnection = {
      server: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}${serverPath}`),
      insecureSkipTlsVerify: false,
      authorization: async () => `Bearer ${token}`,
    };
    return new KubeClient(connection, { timeoutMs });
  }

  it('sends the credential and its user agent, and parses the JSON answer', async () => {
    answer = (response) => json(response, 200, { metadata: { name: 'sd' }, data: { k: 'v' } });

    await expect(client().request('GET', '/api/v1/namespaces/monitoring/configmaps/sd')).resolves.toEqual({
      metadata: { name: 'sd' },
      data: { k: 'v' },
    });
    expect(seen[0]?.headers.authorization).toBe('Bearer test-token');
    expect(seen[0]?.headers['user-agent']).toBe('thanos-store-discovery');
  });

  it('keeps the path of a server URL behind a proxy (Rancher, a kubectl proxy prefix)', async () => {
    await client(2_000, 'test-token', '/k8s/clusters/c-1/').request('GET', '/api/v1/namespaces/monitoring/configmaps/sd');
    expect(seen[0]?.url).toBe('/k8s/clusters/c-1/api/v1/namespaces/monitoring/configmaps/sd');
  });

  it('turns an error status into a KubeApiError with the Status reason and message', async () => {
    answer = (response) => json(response, 403, { kind: 'Status', code: 403, reason: 'Forbidden', message: 'configmaps "sd" is forbidden' });

    const failure = await client()
      .request('GET', '/api/v1/namespaces/monitoring/configmaps/sd')
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(KubeApiError);
    expect(failure).toMatchObject({ code: 403, reason: 'Forbidden', message: 'HTTP 403 Forbidden: configmaps "sd" is forbidden' });
  });

  it('aborts a request the server never answers', async () => {
    answer = () => {};
    const started = performance.now();

    await expect(client(200).request('GET', '/api/v1/namespaces/monitoring/configmaps/sd')).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it.each<[string, (api: ReturnType<typeof createKubeApi>) => Promise<unknown>, Partial<Seen> & { contentType?: string }]>([
    [
      'lists ConfigMaps by field selector',
      (api) => api.listConfigMaps('monitoring', 'metadata.name=sd'),
      { method: 'GET', url: '/api/v1/namespaces/monitoring/configmaps?fieldSelector=metadata.name%3Dsd' },
    ],
    [
      'creates a ConfigMap under our field manager',
      (api) => api.createConfigMap('monitoring', { data: { k: 'v' } }, 'tsd'),
      {
        method: 'POST',
        url: '/api/v1/namespaces/monitoring/configmaps?fieldManager=tsd',
        body: '{"data":{"k":"v"}}',
        contentType: 'application/json',
      },
    ],
    [
      'applies a ConfigMap server-side, forcing our fields',
      (api) => api.applyConfigMap('monitoring', 'sd', { data: { k: 'v' } }, 'tsd'),
      {
        method: 'PATCH',
        url: '/api/v1/namespaces/monitoring/configmaps/sd?fieldManager=tsd&force=true',
        body: '{"data":{"k":"v"}}',
        contentType: 'application/apply-patch+yaml',
      },
    ],
    [
      'lists Deployments by field selector',
      (api) => api.listDeployments('monitoring', 'metadata.name=q'),
      { method: 'GET', url: '/apis/apps/v1/namespaces/monitoring/deployments?fieldSelector=metadata.name%3Dq' },
    ],
    [
      'merge-patches a Deployment',
      (api) => api.mergePatchDeployment('monitoring', 'q', { spec: {} }),
      {
        method: 'PATCH',
        url: '/apis/apps/v1/namespaces/monitoring/deployments/q',
        body: '{"spec":{}}',
        contentType: 'application/merge-patch+json',
      },
    ],
    [
      'lists pods by label selector',
      (api) => api.listPods('monitoring', 'app=q,tier=x'),
      { method: 'GET', url: '/api/v1/namespaces/monitoring/pods?labelSelector=app%3Dq%2Ctier%3Dx' },
    ],
    [
      'reads a Lease',
      (api) => api.readLease('monitoring', 'tsd'),
      { method: 'GET', url: '/apis/coordination.k8s.io/v1/namespaces/monitoring/leases/tsd' },
    ],
    [
      'creates a Lease',
      (api) => api.createLease('monitoring', { metadata: { name: 'tsd' } }),
      { method: 'POST', url: '/apis/coordination.k8s.io/v1/namespaces/monitoring/leases', contentType: 'application/json' },
    ],
    [
      'replaces a Lease',
      (api) => api.replaceLease('monitoring', 'tsd', { metadata: { name: 'tsd', resourceVersion: '7' } }),
      {
        method: 'PUT',
        url: '/apis/coordination.k8s.io/v1/namespaces/monitoring/leases/tsd',
        body: '{"metadata":{"name":"tsd","resourceVersion":"7"}}',
      },
    ],
  ])('%s', async (_name, call, expected) => {
    await call(createKubeApi(client()));

    const { contentType, ...request } = expected;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject(request);
    if (contentType !== undefined) expect(seen[0]?.headers['content-type']).toBe(contentType);
  });

  it('streams watch events split across chunks, then reports the normal end', async () => {
    answer = (response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"type":"ADDED","object":{"metadata":{"name":"sd","resourceVersion":"5"}}}\n{"type":"BOOK');
      setTimeout(() => response.end('MARK","object":{"metadata":{"resourceVersion":"6"}}}\n'), 20);
    };
    const events: Array<[string, unknown]> = [];

    const ended = await new Promise<unknown>((resolve) => {
      void client().watch(
        '/api/v1/namespaces/monitoring/configmaps',
        { fieldSelector: 'metadata.name=sd', timeoutSeconds: 300 },
        (type, object) => events.push([type, object]),
        resolve,
      );
    });

    expect(ended).toBeUndefined();
    expect(events).toEqual([
      ['ADDED', { metadata: { name: 'sd', resourceVersion: '5' } }],
      ['BOOKMARK', { metadata: { resourceVersion: '6' } }],
    ]);
    expect(seen[0]?.url).toBe('/api/v1/namespaces/monitoring/configmaps?fieldSelector=metadata.name%3Dsd&timeoutSeconds=300&watch=true');
  });

  it('reports a watch refused with an error status as a KubeApiError', async () => {
    answer = (response) => json(response, 410, { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });

    const ended = await new Promise<unknown>((resolve) => {
      void client().watch('/api/v1/namespaces/monitoring/configmaps', { resourceVersion: '1' }, () => {}, resolve);
    });

    expect(ended).toBeInstanceOf(KubeApiError);
    expect(ended).toMatchObject({ code: 410 });
  });

  it('ends a watch it aborts without reporting an error', async () => {
    answer = (response) => response.writeHead(200, { 'content-type': 'application/json' }).write('');
    let ended: unknown = 'not yet';
    const done = new Promise<void>((resolve) => {
      void client()
        .watch(
          '/api/v1/namespaces/monitoring/configmaps',
          {},
          () => {},
          (error) => {
            ended = error;
            resolve();
          },
        )
        .then((controller) => controller.abort());
    });

    await done;
    expect(ended).toBeUndefined();
  });
});

function json(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
