import type { ConfigMap } from '../../../src/kube/types.ts';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { createConfigMapWriter, FIELD_MANAGER, MANAGED_BY_LABEL, type ConfigMapWriteRequest } from '../../../src/sinks/configmap-writer.ts';
import { KubernetesWriteError } from '../../../src/sinks/errors.ts';
import { FencedError, type WriteGuard } from '../../../src/sinks/write-guard.ts';
import { apiError, FakeConfigMapApi } from './fakes.ts';
import { metricValue } from '../metric-value.ts';

const NAMESPACE = 'monitoring';
const NAME = 'thanos-store-sd';
const KEY = 'servicediscovery.yml';
const HASH_ANNOTATION = 'thanos-store-discovery/endpoints-hash';
const TEXT = '- targets:\n  - a-grpc.internal.example.com.:10901\n';

function setup(guard?: WriteGuard) {
  const api = new FakeConfigMapApi();
  const metrics = createMetrics();
  const writer = createConfigMapWriter({
    api,
    namespace: NAMESPACE,
    name: NAME,
    metrics,
    logger: createSilentLogger(),
    ...(guard ? { guard } : {}),
  });
  const writes = async () => ({
    create: await metricValue(metrics.configMapWrites, { operation: 'create' }),
    update: await metricValue(metrics.configMapWrites, { operation: 'update' }),
  });
  return { api, writer, writes };
}

function request(existing: ConfigMap | undefined, hash = 'new-hash'): ConfigMapWriteRequest {
  return { existing, key: KEY, text: TEXT, annotations: { [HASH_ANNOTATION]: hash } };
}

// As the apiserver returns it, with fields the controller never reads.
function theirs(): ConfigMap {
  const stored = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: NAME,
      namespace: NAMESPACE,
      uid: 'uid-1',
      labels: { team: 'observability' },
      annotations: { 'owner/note': 'keep me', [HASH_ANNOTATION]: 'old-hash' },
      managedFields: [{ manager: 'kubectl', operation: 'Update' }],
    },
    data: { [KEY]: '- targets: []\n', 'other.yml': 'x: 1\n' },
    binaryData: { blob: 'AAEC' },
  };
  return stored;
}

/** The apply configuration the writer must send: our key and our annotation, nothing of anyone else's. */
const OUR_FIELDS = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: NAME, namespace: NAMESPACE, annotations: { [HASH_ANNOTATION]: 'new-hash' } },
  data: { [KEY]: TEXT },
};

describe('createConfigMapWriter', () => {
  it('creates the ConfigMap with our key, annotation and managed-by label, under our field manager, when none exists', async () => {
    const { api, writer, writes } = setup();

    const result = await writer.write(request(undefined));

    expect(result).toEqual({ outcome: 'created', written: api.current });
    expect(api.calls).toEqual([
      expect.objectContaining({
        method: 'create',
        fieldManager: FIELD_MANAGER,
        body: { ...OUR_FIELDS, metadata: { ...OUR_FIELDS.metadata, labels: { [MANAGED_BY_LABEL]: 'thanos-store-discovery' } } },
      }),
    ]);
    expect(await writes()).toEqual({ create: 1, update: 0 });
  });

  // What the apiserver then keeps of the owner's fields is its business: the integration tests check it there.
  it('applies only our key and annotation to an existing ConfigMap: no label, no resourceVersion, forced, as our manager', async () => {
    const { api, writer, writes } = setup();
    const existing = api.put(theirs());
    const untouched = structuredClone(existing);

    const result = await writer.write(request(existing));

    expect(api.calls).toEqual([
      {
        method: 'apply',
        body: OUR_FIELDS,
        fieldManager: FIELD_MANAGER,
      },
    ]);
    expect(result).toEqual({ outcome: 'updated', written: api.current });
    expect(existing).toEqual(untouched);
    expect(await writes()).toEqual({ create: 0, update: 1 });
  });

  it('reports unchanged, and counts no write, when the object already holds our content', async () => {
    const { api, writer, writes } = setup();
    const ours = api.put({
      ...theirs(),
      metadata: { ...theirs().metadata, annotations: { [HASH_ANNOTATION]: 'new-hash' } },
      data: { [KEY]: TEXT },
    });

    await expect(writer.write(request(ours))).resolves.toEqual({ outcome: 'unchanged', written: ours });

    expect(api.calls.map((call) => call.method)).toEqual(['apply']);
    expect(await writes()).toEqual({ create: 0, update: 0 });
  });

  it('applies without the label when the create finds that someone else created it meanwhile', async () => {
    const { api, writer, writes } = setup();
    api.put(theirs());

    await expect(writer.write(request(undefined))).resolves.toMatchObject({ outcome: 'updated' });

    expect(api.calls.map((call) => [call.method, call.body])).toEqual([
      ['create', { ...OUR_FIELDS, metadata: { ...OUR_FIELDS.metadata, labels: { [MANAGED_BY_LABEL]: 'thanos-store-discovery' } } }],
      ['apply', OUR_FIELDS],
    ]);
    expect(await writes()).toEqual({ create: 0, update: 1 });
  });

  it('asks the write guard before each request: a lease lost after the create got 409 sends no apply', async () => {
    let allowed = 1;
    const guard: WriteGuard = async (send) => {
      if (allowed-- <= 0) throw new FencedError('not the leader');
      return send();
    };
    const { api, writer, writes } = setup(guard);
    api.put(theirs());

    await expect(writer.write(request(undefined))).rejects.toThrow(new FencedError('not the leader'));

    expect(api.calls.map((call) => call.method)).toEqual(['create']);
    expect(await writes()).toEqual({ create: 0, update: 0 });
  });

  const failures: Array<{
    name: string;
    existing: boolean;
    fail: Array<['create' | 'apply', unknown]>;
    operation: string;
    status: number | undefined;
    says: string;
  }> = [
    {
      name: 'create answers 500',
      existing: false,
      fail: [['create', apiError(500, 'InternalError', 'etcdserver: request timed out')]],
      operation: 'create',
      status: 500,
      says: 'etcdserver: request timed out',
    },
    {
      name: 'apply answers 503',
      existing: true,
      fail: [['apply', apiError(503, 'ServiceUnavailable')]],
      operation: 'apply',
      status: 503,
      says: 'HTTP 503 ServiceUnavailable',
    },
    {
      name: 'apply answers 403',
      existing: true,
      fail: [['apply', apiError(403, 'Forbidden', 'configmaps is forbidden')]],
      operation: 'apply',
      status: 403,
      says: 'configmaps is forbidden',
    },
    {
      name: 'the apply after an AlreadyExists answers 500',
      existing: false,
      fail: [
        ['create', apiError(409, 'AlreadyExists')],
        ['apply', apiError(500, 'InternalError')],
      ],
      operation: 'apply',
      status: 500,
      says: 'HTTP 500 InternalError',
    },
    {
      name: 'the network fails',
      existing: true,
      fail: [['apply', new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 10.0.0.1:443') })]],
      operation: 'apply',
      status: undefined,
      says: 'fetch failed: caused by: connect ECONNREFUSED',
    },
  ];

  it.each(failures)(
    'throws a KubernetesWriteError naming the ConfigMap when $name',
    async ({ existing, fail, operation, status, says }) => {
      const { api, writer, writes } = setup();
      const cached = existing ? api.put(theirs()) : undefined;
      for (const [method, error] of fail) api.failNext(method, error);

      const error = await writer.write(request(cached)).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(KubernetesWriteError);
      expect(error).toMatchObject({ resource: `ConfigMap ${NAMESPACE}/${NAME}`, status });
      expect((error as Error).message).toMatch(new RegExp(`^${operation} of ConfigMap ${NAMESPACE}/${NAME} failed`));
      expect((error as Error).message).toContain(says);
      expect((error as Error).cause).toBe(fail.at(-1)?.[1]);
      expect(await writes()).toEqual({ create: 0, update: 0 });
    },
  );
});
