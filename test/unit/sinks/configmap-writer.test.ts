import { ApiException, type V1ConfigMap } from '@kubernetes/client-node';
import { createSilentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { createConfigMapWriter, MANAGED_BY_LABEL, type ConfigMapWriteRequest } from '../../../src/sinks/configmap-writer.ts';
import { KubernetesWriteError } from '../../../src/sinks/errors.ts';
import { apiError, FakeConfigMapApi } from './fakes.ts';
import { metricValue } from '../metric-value.ts';

const NAMESPACE = 'monitoring';
const NAME = 'thanos-store-sd';
const KEY = 'servicediscovery.yml';
const HASH_ANNOTATION = 'thanos-store-discovery/endpoints-hash';
const TEXT = '- targets:\n  - a-grpc.internal.example.com.:10901\n';

function setup(maxConflictRetries?: number) {
  const core = new FakeConfigMapApi();
  const metrics = createMetrics();
  const writer = createConfigMapWriter({
    core,
    namespace: NAMESPACE,
    name: NAME,
    metrics,
    logger: createSilentLogger(),
    ...(maxConflictRetries === undefined ? {} : { maxConflictRetries }),
  });
  const writes = async () => ({
    create: await metricValue(metrics.configMapWrites, { operation: 'create' }),
    update: await metricValue(metrics.configMapWrites, { operation: 'update' }),
  });
  return { core, writer, writes };
}

function request(existing: V1ConfigMap | undefined, hash = 'new-hash'): ConfigMapWriteRequest {
  return { existing, key: KEY, text: TEXT, annotations: { [HASH_ANNOTATION]: hash } };
}

function theirs(): V1ConfigMap {
  return {
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
}

describe('createConfigMapWriter', () => {
  it('creates the ConfigMap with our key, annotations and managed-by label when none exists', async () => {
    const { core, writer, writes } = setup();

    await expect(writer.write(request(undefined))).resolves.toBe('created');

    expect(core.calls.map((call) => call.method)).toEqual(['create']);
    expect(core.current).toMatchObject({
      metadata: {
        name: NAME,
        namespace: NAMESPACE,
        labels: { [MANAGED_BY_LABEL]: 'thanos-store-discovery' },
        annotations: { [HASH_ANNOTATION]: 'new-hash' },
      },
      data: { [KEY]: TEXT },
    });
    expect(await writes()).toEqual({ create: 1, update: 0 });
  });

  it('updates with the resourceVersion it read and keeps every other key, label and annotation', async () => {
    const { core, writer, writes } = setup();
    const existing = core.put(theirs());
    const untouched = structuredClone(existing);

    await expect(writer.write(request(existing))).resolves.toBe('updated');

    const [call] = core.calls;
    expect(call?.method).toBe('replace');
    expect(call?.body?.metadata?.resourceVersion).toBe(existing.metadata?.resourceVersion);
    expect(call?.body?.metadata?.managedFields).toBeUndefined();
    expect(core.current?.data).toEqual({ [KEY]: TEXT, 'other.yml': 'x: 1\n' });
    expect(core.current?.binaryData).toEqual({ blob: 'AAEC' });
    expect(core.current?.metadata?.labels).toEqual({ team: 'observability', [MANAGED_BY_LABEL]: 'thanos-store-discovery' });
    expect(core.current?.metadata?.annotations).toEqual({ 'owner/note': 'keep me', [HASH_ANNOTATION]: 'new-hash' });
    expect(existing).toEqual(untouched);
    expect(await writes()).toEqual({ create: 0, update: 1 });
  });

  it('re-reads after a 409 Conflict and retries on the fresh object, keeping the other writer\'s change', async () => {
    const { core, writer, writes } = setup();
    const stale = core.put(theirs());
    core.edit((object) => {
      object.data = { ...object.data, 'added-meanwhile.yml': 'y: 2\n' };
    });

    await expect(writer.write(request(stale))).resolves.toBe('updated');

    expect(core.calls.map((call) => call.method)).toEqual(['replace', 'read', 'replace']);
    expect(core.current?.data).toEqual({ [KEY]: TEXT, 'other.yml': 'x: 1\n', 'added-meanwhile.yml': 'y: 2\n' });
    expect(await writes()).toEqual({ create: 0, update: 1 });
  });

  it('writes nothing more when the re-read after a 409 finds our content already there', async () => {
    const { core, writer, writes } = setup();
    const stale = core.put(theirs());
    core.edit((object) => {
      object.metadata = { ...object.metadata, labels: { [MANAGED_BY_LABEL]: 'thanos-store-discovery' }, annotations: { [HASH_ANNOTATION]: 'new-hash' } };
      object.data = { [KEY]: TEXT };
    });

    await expect(writer.write(request(stale))).resolves.toBe('unchanged');

    expect(core.calls.map((call) => call.method)).toEqual(['replace', 'read']);
    expect(await writes()).toEqual({ create: 0, update: 0 });
  });

  it('gives up with a KubernetesWriteError once the conflict retries are spent', async () => {
    const { core, writer, writes } = setup(2);
    const existing = core.put(theirs());
    core.beforeReplace = () => core.edit((object) => {
      object.metadata = { ...object.metadata, labels: { ...object.metadata?.labels, churn: String(Math.random()) } };
    });

    const error = await writer.write(request(existing)).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(KubernetesWriteError);
    expect(error).toMatchObject({ resource: `ConfigMap ${NAMESPACE}/${NAME}`, status: 409 });
    expect((error as Error).message).toContain('after 3 attempts');
    expect((error as Error).cause).toBeInstanceOf(ApiException);
    expect(core.calls.filter((call) => call.method === 'replace')).toHaveLength(3);
    expect(core.current?.data?.[KEY]).toBe('- targets: []\n');
    expect(await writes()).toEqual({ create: 0, update: 0 });
  });

  it('uses five conflict retries by default', async () => {
    const { core, writer } = setup();
    const existing = core.put(theirs());
    core.beforeReplace = () => core.edit(() => undefined);

    await expect(writer.write(request(existing))).rejects.toThrow(KubernetesWriteError);
    expect(core.calls.filter((call) => call.method === 'replace')).toHaveLength(6);
  });

  it('creates the ConfigMap when the cached one was deleted (404 on update)', async () => {
    const { core, writer, writes } = setup();
    const cached = { ...theirs(), metadata: { ...theirs().metadata, resourceVersion: '7' } };

    await expect(writer.write(request(cached))).resolves.toBe('created');

    expect(core.calls.map((call) => call.method)).toEqual(['replace', 'create']);
    expect(core.current?.data).toEqual({ [KEY]: TEXT });
    expect(await writes()).toEqual({ create: 1, update: 0 });
  });

  it('reads and updates when the create answers 409 AlreadyExists', async () => {
    const { core, writer, writes } = setup();
    core.put(theirs());

    await expect(writer.write(request(undefined))).resolves.toBe('updated');

    expect(core.calls.map((call) => call.method)).toEqual(['create', 'read', 'replace']);
    expect(core.current?.data).toEqual({ [KEY]: TEXT, 'other.yml': 'x: 1\n' });
    expect(core.current?.metadata?.annotations?.[HASH_ANNOTATION]).toBe('new-hash');
    expect(await writes()).toEqual({ create: 0, update: 1 });
  });

  const failures: Array<{ name: string; existing: boolean; fail: Array<['create' | 'replace' | 'read', unknown]>; operation: string; status: number | undefined; says: string }> = [
    { name: 'create answers 500', existing: false, fail: [['create', apiError(500, 'InternalError', 'etcdserver: request timed out')]], operation: 'create', status: 500, says: 'etcdserver: request timed out' },
    { name: 'update answers 503', existing: true, fail: [['replace', apiError(503, 'ServiceUnavailable')]], operation: 'update', status: 503, says: 'HTTP 503 ServiceUnavailable' },
    { name: 'update answers 403', existing: true, fail: [['replace', apiError(403, 'Forbidden', 'configmaps is forbidden')]], operation: 'update', status: 403, says: 'configmaps is forbidden' },
    { name: 're-read after a conflict answers 500', existing: true, fail: [['replace', apiError(409, 'Conflict')], ['read', apiError(500, 'InternalError')]], operation: 'read', status: 500, says: 'HTTP 500 InternalError' },
    { name: 'the network fails', existing: true, fail: [['replace', new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 10.0.0.1:443') })]], operation: 'update', status: undefined, says: 'fetch failed: caused by: connect ECONNREFUSED' },
  ];

  it.each(failures)('throws a KubernetesWriteError naming the ConfigMap when $name', async ({ existing, fail, operation, status, says }) => {
    const { core, writer, writes } = setup();
    const cached = existing ? core.put(theirs()) : undefined;
    for (const [method, error] of fail) core.failNext(method, error);

    const error = await writer.write(request(cached)).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(KubernetesWriteError);
    expect(error).toMatchObject({ resource: `ConfigMap ${NAMESPACE}/${NAME}`, status });
    expect((error as Error).message).toMatch(new RegExp(`^${operation} of ConfigMap ${NAMESPACE}/${NAME} failed`));
    expect((error as Error).message).toContain(says);
    expect((error as Error).cause).toBe(fail.at(-1)?.[1]);
    expect(await writes()).toEqual({ create: 0, update: 0 });
  });
});
