// The controller's Kubernetes calls through client-node, against a real local HTTP server: what goes on the wire
// (method, path, query, content type), what comes back (the API's JSON, errors as KubeApiError), and that every call
// ends at its timeout or when the controller stops.
import { KubeApiError, apiStatusCode } from '../../../src/kube/client.ts';
import type { KubeApi } from '../../../src/kube/api.ts';
import { startStandInApiServer, standInClient, status, type StandInApiServer, type StandInRequest } from './stand-in-apiserver.ts';

let server: StandInApiServer;
let api: KubeApi;
beforeEach(async () => {
  server = await startStandInApiServer();
  api = standInClient(server.url).api;
});
afterEach(async () => {
  await server.close();
});

const lease = {
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: 'tsd', namespace: 'ns', resourceVersion: '7', creationTimestamp: '2026-12-04T18:00:00Z' },
  spec: { holderIdentity: 'pod-a', leaseDurationSeconds: 15, renewTime: '2026-12-04T18:00:01.123456Z' },
};

/** Answers every call with `body` (status 200 or 201) and keeps the request to look at. */
function answer(body: object, code = 200): () => StandInRequest {
  let seen: StandInRequest | undefined;
  server.other = (request, response) => {
    seen = request;
    response.writeHead(code, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  return () => {
    if (!seen) throw new Error('no request');
    return seen;
  };
}

describe('each call, as the apiserver expects it', () => {
  it.each<[string, (api: KubeApi) => Promise<unknown>, string, string, Record<string, string>, string | undefined]>([
    [
      'createConfigMap',
      (a) => a.createConfigMap('ns', { metadata: { name: 'sd' }, data: { k: 'v' } }, 'tsd'),
      'POST',
      '/api/v1/namespaces/ns/configmaps',
      { fieldManager: 'tsd' },
      'application/json',
    ],
    [
      'applyConfigMap (server-side apply, forced)',
      (a) => a.applyConfigMap('ns', 'sd', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sd' }, data: { k: 'v' } }, 'tsd'),
      'PATCH',
      '/api/v1/namespaces/ns/configmaps/sd',
      { fieldManager: 'tsd', force: 'true' },
      'application/apply-patch+yaml',
    ],
    [
      'mergePatchDeployment',
      (a) => a.mergePatchDeployment('ns', 'thanos-query', { spec: { template: { metadata: { annotations: { h: '1' } } } } }),
      'PATCH',
      '/apis/apps/v1/namespaces/ns/deployments/thanos-query',
      {},
      'application/merge-patch+json',
    ],
    ['listPods', (a) => a.listPods('ns', 'app=thanos'), 'GET', '/api/v1/namespaces/ns/pods', { labelSelector: 'app=thanos' }, undefined],
    [
      'createEvent',
      (a) =>
        a.createEvent('ns', {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: 'sd.1' },
          involvedObject: { kind: 'ConfigMap', name: 'sd', namespace: 'ns', apiVersion: 'v1' },
          reason: 'Published',
          message: 'm',
          type: 'Normal',
          firstTimestamp: '2026-12-04T18:00:00.000Z',
          lastTimestamp: '2026-12-04T18:00:00.000Z',
          count: 1,
          source: { component: 'tsd' },
          reportingComponent: 'tsd',
        }),
      'POST',
      '/api/v1/namespaces/ns/events',
      {},
      'application/json',
    ],
    ['readLease', (a) => a.readLease('ns', 'tsd'), 'GET', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/tsd', {}, undefined],
    ['createLease', (a) => a.createLease('ns', lease), 'POST', '/apis/coordination.k8s.io/v1/namespaces/ns/leases', {}, 'application/json'],
    [
      'replaceLease',
      (a) => a.replaceLease('ns', 'tsd', lease),
      'PUT',
      '/apis/coordination.k8s.io/v1/namespaces/ns/leases/tsd',
      {},
      'application/json',
    ],
  ])('%s', async (_name, run, method, path, query, contentType) => {
    const seen = answer(lease);
    await run(api);
    const request = seen();
    expect(request.method).toBe(method);
    expect(request.path).toBe(path);
    expect(Object.fromEntries(request.query)).toEqual(query);
    expect(request.headers['content-type']).toBe(contentType);
    if (method !== 'GET') expect(typeof JSON.parse(request.body)).toBe('object');
  });

  it('sends the bodies as given, timestamps as text and every field kept', async () => {
    const seen = answer(lease);
    await api.replaceLease('ns', 'tsd', lease);
    expect(JSON.parse(seen().body)).toEqual(lease);
  });

  it('lists by field selector and hands on the API JSON, timestamps as text', async () => {
    server.lists.push({
      apiVersion: 'v1',
      kind: 'ConfigMapList',
      metadata: { resourceVersion: '42' },
      items: [{ metadata: { name: 'sd' } }],
    });
    const list = await api.listConfigMaps('ns', 'metadata.name=sd');
    expect(list).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMapList',
      metadata: { resourceVersion: '42' },
      items: [{ metadata: { name: 'sd' } }],
    });
    expect(server.requests[0]!.query.get('fieldSelector')).toBe('metadata.name=sd');

    answer(lease);
    const read = await api.readLease('ns', 'tsd');
    expect(read.spec?.renewTime).toBe('2026-12-04T18:00:01.123456Z');
    expect((read.metadata as Record<string, unknown>)['creationTimestamp']).toBe('2026-12-04T18:00:00.000Z');
  });
});

describe('errors', () => {
  it('an error status with a Status body is a KubeApiError with its code, reason and message', async () => {
    answer(status(409, 'Conflict', 'the object has been modified'), 409);
    const error = await api.replaceLease('ns', 'tsd', lease).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect(apiStatusCode(error)).toBe(409);
    expect((error as KubeApiError).message).toBe('HTTP 409 Conflict: the object has been modified');
  });

  it('an answer the generated code declares without a body (401) is a KubeApiError too', async () => {
    answer({}, 401);
    expect(apiStatusCode(await api.readLease('ns', 'tsd').catch((e: unknown) => e))).toBe(401);
  });

  it('no answer: the call fails at its timeout and the request is closed', async () => {
    let closed = false;
    server.other = (_request, response) => response.on('close', () => (closed = true));
    const { api: quick } = standInClient(server.url, { timeoutMs: 100 });
    const error = await quick.readLease('ns', 'tsd').catch((e: unknown) => e);
    expect((error as Error).name).toBe('TimeoutError');
    expect(apiStatusCode(error)).toBeUndefined();
    while (!closed) await new Promise((resolve) => setImmediate(resolve));
  });

  it('the stop signal aborts a call in flight with its reason', async () => {
    let arrived = () => {};
    const received = new Promise<void>((resolve) => (arrived = resolve));
    server.other = () => arrived();
    const stopping = new AbortController();
    const { api: stoppable } = standInClient(server.url, { signal: stopping.signal });
    const call = stoppable.listPods('ns', 'app=thanos').catch((e: unknown) => e);
    await received;
    stopping.abort(new Error('the controller stopped'));
    expect(await call).toEqual(new Error('the controller stopped'));
    // Once stopped, no request goes out at all.
    const before = server.requests.length;
    expect(await stoppable.readLease('ns', 'tsd').catch((e: unknown) => e)).toEqual(new Error('the controller stopped'));
    expect(server.requests).toHaveLength(before);
  });
});

it('keeps the path of a server URL behind a proxy prefix (Rancher), for calls and watches', async () => {
  answer(lease);
  const { api: prefixed, watch } = standInClient(`${server.url}/k8s/clusters/c-1`);
  await prefixed.readLease('ns', 'tsd');
  const controller = await watch.watch(
    '/api/v1/namespaces/ns/configmaps',
    { fieldSelector: 'metadata.name=sd' },
    () => {},
    () => {},
  );
  controller.abort();
  expect(server.requests.map((request) => request.path)).toEqual([
    '/k8s/clusters/c-1/apis/coordination.k8s.io/v1/namespaces/ns/leases/tsd',
    '/k8s/clusters/c-1/api/v1/namespaces/ns/configmaps',
  ]);
});
