import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../peers/control-plane.ts';
import { startMoto, type Moto } from '../peers/moto.ts';
import { route53Fixture, type Route53Fixture } from '../peers/route53-fixture.ts';
import { controllerEnv, startController, type ControllerProcess } from '../support/controller-process.ts';
import { createThanosDeployment, expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';

describe('fresh start against real peers', () => {
  let controlPlane: ControlPlane;
  let moto: Moto;
  let route53: Route53Fixture;
  let dir: string;
  let controller: ControllerProcess | undefined;

  beforeAll(async () => {
    [controlPlane, moto] = await Promise.all([startControlPlane(), startMoto()]);
    route53 = route53Fixture(moto.endpoint);
    dir = await mkdtemp(join(tmpdir(), 'tsd-fresh-'));
  });

  afterAll(async () => {
    await controller?.stop();
    route53?.destroy();
    await Promise.all([controlPlane?.stop(), moto?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates the ConfigMap with the exact text and sets the pod-template annotation once', async () => {
    const kubeConfig = controlPlane.kubeConfig();
    const namespace = await controlPlane.createNamespace('fresh');
    await createThanosDeployment(kubeConfig, namespace);
    const zone = await route53.createPrivateZone('internal.example.com');
    const hosts = ['cluster-a-grpc.internal.example.com', 'cluster-b-grpc.internal.example.com', 'cluster-c-grpc.internal.example.com'];
    await route53.upsertRecords(zone, [
      ...hosts.map((name, i) => ({ name, type: 'A' as const, value: `10.0.0.${i + 1}` })),
      { name: 'cluster-a-grpc.internal.example.com', type: 'AAAA', value: 'fd00::1' },
      { name: 'cluster-a-http.internal.example.com', type: 'A', value: '10.0.1.1' },
      { name: 'grpc.internal.example.com', type: 'A', value: '10.0.1.2' },
      { name: 'x.cluster-d-grpc.internal.example.com', type: 'A', value: '10.0.1.3' },
      { name: 'cluster-e-grpc.internal.example.com', type: 'TXT', value: '"not a store"' },
    ]);

    controller = await startController(
      controllerEnv({ kubeconfigPath: controlPlane.kubeconfigPath, namespace, zones: [zone], route53Endpoint: moto.endpoint }),
      dir,
    );
    await controller.waitUntilReady();
    await waitFor(async () => (await readConfigMap(kubeConfig, namespace)) !== undefined, 'the ConfigMap', 15_000, () => controller!.output());

    const configMap = await readConfigMap(kubeConfig, namespace);
    expect(configMap?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
    expect(configMap?.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('thanos-store-discovery');
    await waitFor(async () => templateHash(await readDeployment(kubeConfig, namespace)) !== undefined, 'the annotation');
    const deployment = await readDeployment(kubeConfig, namespace);
    expect(deployment?.metadata?.generation).toBe(2);

    // Three more polls change nothing: the same set never rolls the pods twice.
    const polls = await controller.metric('thanos_store_discovery_route53_poll_duration_seconds_count', { outcome: 'success' });
    await waitFor(
      async () => (await controller!.metric('thanos_store_discovery_route53_poll_duration_seconds_count', { outcome: 'success' })) >= polls + 3,
      'three more polls',
    );
    const after = await readDeployment(kubeConfig, namespace);
    expect(after?.metadata?.generation).toBe(2);
    expect(after?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
    expect(await controller.metric('thanos_store_discovery_restarts_triggered_total')).toBe(1);
    expect(await controller.metric('thanos_store_discovery_configmap_writes_total', { operation: 'create' })).toBe(1);
    expect(await controller.metric('thanos_store_discovery_endpoints')).toBe(3);

    const { code, ms } = await controller.terminate('SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000);
  });
});
