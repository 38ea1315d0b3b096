// Smoke test of the real-peer harness: each peer starts, serves what the controller will ask of it, and stops.
import { CoreV1Api } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../peers/control-plane.ts';
import { startFaultProxy, type FaultProxy } from '../peers/fault-proxy.ts';
import { startMoto, type Moto } from '../peers/moto.ts';
import { route53Fixture, type FixtureRecord } from '../peers/route53-fixture.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../peers/webhook-receiver.ts';

describe('control plane (etcd + kube-apiserver)', () => {
  let controlPlane: ControlPlane | undefined;

  beforeAll(async () => {
    controlPlane = await startControlPlane();
  });
  afterAll(async () => {
    await controlPlane?.stop();
  });

  it('stores a ConfigMap and serves it again after the API server restarts', async () => {
    if (controlPlane === undefined) throw new Error('the control plane did not start');
    const namespace = await controlPlane.createNamespace('peers-smoke');
    const core = controlPlane.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'thanos-file-sd' }, data: { 'servicediscovery.yml': '- targets: []\n' } },
    });
    expect((await core.readNamespacedConfigMap({ name: 'thanos-file-sd', namespace })).data).toEqual({
      'servicediscovery.yml': '- targets: []\n',
    });

    await controlPlane.stopApiServer();
    await expect(core.readNamespacedConfigMap({ name: 'thanos-file-sd', namespace })).rejects.toHaveProperty('cause.code', 'ECONNREFUSED');
    await controlPlane.startApiServer();

    const again = await controlPlane.kubeConfig().makeApiClient(CoreV1Api).readNamespacedConfigMap({
      name: 'thanos-file-sd',
      namespace,
    });
    expect(again.data).toEqual({ 'servicediscovery.yml': '- targets: []\n' });
  });
});

describe('moto behind the fault proxy', () => {
  let moto: Moto | undefined;
  let proxy: FaultProxy | undefined;

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.endpoint);
  });
  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });

  it('lists 650 upserted records over three pages; an injected throttle reaches the SDK as Throttling', async () => {
    if (moto === undefined || proxy === undefined) throw new Error('moto or the fault proxy did not start');
    const direct = route53Fixture(moto.endpoint);
    const withoutRetries = route53Fixture(proxy.url, { maxAttempts: 1 });
    const withRetries = route53Fixture(proxy.url);
    try {
      const zoneId = await direct.createPrivateZone('internal.example.com');
      const records: FixtureRecord[] = Array.from({ length: 650 }, (_, i) => ({
        name: `store-${String(i).padStart(3, '0')}-grpc.internal.example.com`,
        type: 'A',
        value: `10.0.${i >> 8}.${i & 255}`,
      }));
      // 650 UPSERTs weigh 1,300 records, over the 1,000 a batch may hold.
      expect(await direct.upsertRecords(zoneId, records)).toBe(2);

      proxy.inject('throttle', { times: 1 });
      await expect(withoutRetries.listRecordSets(zoneId)).rejects.toMatchObject({
        name: 'Throttling',
        $metadata: { httpStatusCode: 400 },
      });
      expect(proxy.faultedBy('throttle')).toBe(1);
      expect(proxy.forwarded).toBe(0);

      const listed = await withoutRetries.listRecordSets(zoneId);
      expect(listed.pages).toBe(3);
      expect(proxy.forwarded).toBe(3);
      const names = listed.recordSets.filter((r) => r.Type === 'A').map((r) => r.Name);
      expect(new Set(names)).toEqual(new Set(records.map((r) => `${r.name}.`)));
      // The apex NS and SOA moto creates with the zone.
      expect(listed.recordSets).toHaveLength(652);

      // The SDK's standard retry mode treats this error body as throttling and tries again.
      proxy.inject('throttle', { times: 1 });
      expect((await withRetries.listRecordSets(zoneId)).recordSets).toHaveLength(652);
      expect(proxy.faultedBy('throttle')).toBe(2);
      expect(proxy.forwarded).toBe(6);
    } finally {
      direct.destroy();
      withoutRetries.destroy();
      withRetries.destroy();
    }
  });
});

describe('webhook receiver', () => {
  let receiver: WebhookReceiver | undefined;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver?.stop();
  });

  it('records a POSTed JSON body with its headers and answers with the status it is told to', async () => {
    if (receiver === undefined) throw new Error('the webhook receiver did not start');
    const alert = { username: 'Thanos Store Discovery', attachments: [{ color: '#FF0000', fields: [] }] };
    const ok = await fetch(receiver.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alert),
    });
    expect(ok.status).toBe(200);
    expect(await receiver.waitForBodies(1, 5_000)).toEqual([alert]);
    expect(receiver.posts[0]?.headers['content-type']).toBe('application/json');

    receiver.respondWith(500);
    const failing = await fetch(receiver.url, { method: 'POST', body: '{}' });
    expect(failing.status).toBe(500);
    expect(receiver.bodies).toEqual([alert, {}]);
  });
});
