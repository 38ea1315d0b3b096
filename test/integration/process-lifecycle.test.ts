import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../peers/control-plane.ts';
import { startFaultProxy, type FaultProxy } from '../peers/fault-proxy.ts';
import { startMoto, type Moto } from '../peers/moto.ts';
import { route53Fixture, type Route53Fixture } from '../peers/route53-fixture.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../peers/webhook-receiver.ts';
import { controllerEnv, startController, type ControllerProcess } from '../support/controller-process.ts';
import {
  createThanosDeployment,
  expectedFileSd,
  readConfigMap,
  readDeployment,
  SD_KEY,
  templateHash,
  THANOS_CONFIGMAP,
} from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, expectedHash, logTail, METRICS, waitForPolls, withControllerLog } from '../support/scenario.ts';

// The shutdown the scenario asks for; the controller's own deadline (9 s) exits with 1 when it is missed.
const SHUTDOWN_LIMIT_MS = 10_000;
// A run-once against an unreachable Route53 spends the reader's whole retry budget (about 6 to 12 s) first.
const FAILING_RUN_TIMEOUT_MS = 60_000;

describe('process lifecycle', () => {
  let controlPlane: ControlPlane;
  let moto: Moto;
  let route53: Route53Fixture;
  let proxy: FaultProxy;
  let dir: string;
  let receiver: WebhookReceiver | undefined;
  let controller: ControllerProcess | undefined;
  let controllers = 0;

  beforeAll(async () => {
    [controlPlane, moto] = await Promise.all([startControlPlane(), startMoto()]);
    route53 = route53Fixture(moto.endpoint);
    proxy = await startFaultProxy(moto.endpoint);
    dir = await mkdtemp(join(tmpdir(), 'tsd-lifecycle-'));
  });

  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });

  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
    proxy?.clear();
    await receiver?.stop();
    receiver = undefined;
  });

  afterAll(async () => {
    route53?.destroy();
    await proxy?.stop();
    await Promise.all([controlPlane?.stop(), moto?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A namespace with the Thanos Deployment and a zone holding `hosts`. */
  async function world(prefix: string, hosts: readonly string[]) {
    const kubeConfig = controlPlane.kubeConfig();
    const namespace = await controlPlane.createNamespace(prefix);
    await createThanosDeployment(kubeConfig, namespace);
    const zone = await route53.createPrivateZone(`${prefix}.internal.example.com`);
    await route53.upsertRecords(zone, aRecords(hosts));
    return { kubeConfig, namespace, zone };
  }

  /** A controller reading Route53 through the fault proxy and alerting to this test's receiver. */
  async function start(namespace: string, zones: readonly string[], extra?: Record<string, string | undefined>) {
    const env = controllerEnv({
      kubeconfigPath: controlPlane.kubeconfigPath,
      namespace,
      zones,
      route53Endpoint: proxy.url,
      hookUrl: receiver!.url,
      extra,
    });
    const running = await startController(env, dir, `controller-${++controllers}`);
    controller = running;
    return running;
  }

  async function olderToolConfigMap(kubeConfig: KubeConfig, namespace: string, hosts: readonly string[]) {
    return kubeConfig.makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: THANOS_CONFIGMAP }, data: { [SD_KEY]: `- targets:\n${hosts.map((host) => `  - ${host}.:10901\n`).join('')}` } },
    });
  }

  function expectNoHookUrlIn(running: ControllerProcess): void {
    const url = receiver!.url;
    expect(running.output()).not.toContain(url);
    expect(running.output()).not.toContain(new URL(url).pathname);
  }

  describe('RUN_ONCE=true', () => {
    it('makes one pass, writes the ConfigMap and the annotation, and exits 0', withControllerLog(() => controller, async () => {
      const hosts = ['cluster-a-grpc.once.internal.example.com', 'cluster-b-grpc.once.internal.example.com'];
      const { kubeConfig, namespace, zone } = await world('once', hosts);

      const running = await start(namespace, [zone], { RUN_ONCE: 'true' });
      expect(await running.exited).toBe(0);

      expect((await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
      expect(templateHash(await readDeployment(kubeConfig, namespace))).toBe(expectedHash(hosts));
      expect(running.logs().find((line) => line.message === 'run once finished')?.['outcome']).toBe('success');
      // One poll, one pass.
      expect(running.logs().filter((line) => line.message === 'read Route53 zones')).toHaveLength(1);
      expect(receiver!.posts).toHaveLength(0);
    }));

    it('exits non-zero without touching the ConfigMap when Route53 cannot be read', withControllerLog(() => controller, async () => {
      const hosts = ['cluster-a-grpc.once-failing.internal.example.com', 'cluster-b-grpc.once-failing.internal.example.com'];
      const { kubeConfig, namespace, zone } = await world('once-failing', hosts);
      const created = await olderToolConfigMap(kubeConfig, namespace, hosts.slice(0, 1));
      const deployment = await readDeployment(kubeConfig, namespace);

      proxy.inject('reset');
      const running = await start(namespace, [zone], { RUN_ONCE: 'true' });
      const code = await Promise.race([
        running.exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('still running'), FAILING_RUN_TIMEOUT_MS).unref()),
      ]);
      expect(code).not.toBe('still running');
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();

      const configMap = await readConfigMap(kubeConfig, namespace);
      expect(configMap?.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
      expect((await readDeployment(kubeConfig, namespace))?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
      expect(proxy.faultedBy('reset')).toBeGreaterThanOrEqual(6);
      expect(receiver!.posts).toHaveLength(1);
      expect(receiver!.bodies[0]).toMatchObject({
        attachments: [{ fields: [{ title: expect.stringMatching(/Route53/) }, { title: 'Error Message', value: expect.stringContaining(zone) }] }],
      });
      expectNoHookUrlIn(running);
    }), FAILING_RUN_TIMEOUT_MS + 30_000);
  });

  it('exits 2 on a bad environment, printing every problem, writing nothing and sending the config alert', withControllerLog(() => controller, async () => {
    const hosts = ['cluster-a-grpc.bad-env.internal.example.com'];
    const { kubeConfig, namespace, zone } = await world('bad-env', hosts);
    const deployment = await readDeployment(kubeConfig, namespace);
    const route53Requests = () => proxy.forwarded + proxy.faulted;
    const requestsBefore = route53Requests();

    const running = await start(namespace, [zone], { THANOS_NAMESPACE: undefined, POLL_INTERVAL_SECONDS: 'abc', RESTART_MODE: 'bogus' });
    expect(await running.exited).toBe(2);

    const output = running.output();
    const problems = [/THANOS_NAMESPACE is required/, /POLL_INTERVAL_SECONDS="abc" is not a whole number/, /RESTART_MODE="bogus" is not one of annotation, none/];
    for (const problem of problems) expect(output).toMatch(new RegExp(`^config error: ${problem.source}`, 'm'));
    expect(await readConfigMap(kubeConfig, namespace)).toBeUndefined();
    expect((await readDeployment(kubeConfig, namespace))?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
    expect(route53Requests()).toBe(requestsBefore);

    expect(receiver!.posts).toHaveLength(1);
    const body = receiver!.bodies[0] as { attachments: [{ fields: [unknown, { value: string }] }] };
    expect(body).toMatchObject({
      username: 'Thanos Store Discovery',
      attachments: [{ color: '#FF0000', fields: [{ title: expect.stringMatching(/invalid configuration/), short: false }, { title: 'Error Message', short: false }] }],
    });
    for (const problem of problems) expect(body.attachments[0].fields[1].value).toMatch(problem);
    expectNoHookUrlIn(running);
  }));

  describe('SIGTERM', () => {
    it('during a slow poll: exits 0 in time and leaves no half-written state', withControllerLog(() => controller, async () => {
      const hosts = ['cluster-a-grpc.sigterm-busy.internal.example.com', 'cluster-b-grpc.sigterm-busy.internal.example.com'];
      const { kubeConfig, namespace, zone } = await world('sigterm-busy', hosts);
      const running = await start(namespace, [zone]);
      await waitFor(
        async () => templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(hosts),
        'the first convergence',
        30_000,
        logTail(running),
      );
      await waitForPolls(running, 1);
      const before = await readConfigMap(kubeConfig, namespace);

      // Every read from now on is held back 5 s; the record is added so that a poll allowed to finish would write.
      proxy.inject('slow', { delayMs: 5_000 });
      const all = [...hosts, 'cluster-c-grpc.sigterm-busy.internal.example.com'];
      await route53.upsertRecords(zone, aRecords(all));
      const held = proxy.faultedBy('slow');
      await waitFor(() => proxy.faultedBy('slow') > held, 'a poll in flight after the change', 10_000, logTail(running));

      const { code, ms } = await running.terminate('SIGTERM');
      process.stderr.write(`MEASURE SIGTERM during a poll: exit ${code} after ${ms} ms\n`);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(SHUTDOWN_LIMIT_MS);
      expect(running.logs().some((line) => line.message === 'stopped')).toBe(true);

      // Either the old list, untouched, or the new one with the Deployment rolled for it: nothing in between.
      const configMap = await readConfigMap(kubeConfig, namespace);
      const deployment = await readDeployment(kubeConfig, namespace);
      if (configMap?.metadata?.resourceVersion === before?.metadata?.resourceVersion) {
        expect(templateHash(deployment)).toBe(expectedHash(hosts));
      } else {
        expect(configMap?.data?.[SD_KEY]).toBe(expectedFileSd(all));
        expect(templateHash(deployment)).toBe(expectedHash(all));
      }
    }));

    it('when idle: exits 0 at once, not at the next poll', withControllerLog(() => controller, async () => {
      const hosts = ['cluster-a-grpc.sigterm-idle.internal.example.com'];
      const { kubeConfig, namespace, zone } = await world('sigterm-idle', hosts);
      const running = await start(namespace, [zone], { POLL_INTERVAL_SECONDS: '60' });
      await running.waitUntilReady();
      await waitFor(
        async () => templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(hosts),
        'the first convergence',
        30_000,
        logTail(running),
      );
      // The gauge is set at the end of the pass that converged: from here on nothing is in flight.
      await waitFor(async () => (await running.metric(METRICS.endpoints)) === 1, 'the pass to finish', 15_000, logTail(running));

      const { code, ms } = await running.terminate('SIGTERM');
      process.stderr.write(`MEASURE SIGTERM when idle: exit ${code} after ${ms} ms\n`);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(SHUTDOWN_LIMIT_MS);
      expect(running.logs().some((line) => line.message === 'stopped')).toBe(true);
      expect((await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
    }));
  });
});
