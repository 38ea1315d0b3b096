import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
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
import { parsePending } from '../../src/plan/pending-annotation.ts';
import { aRecords, expectedHash, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';
import type { ControllerProcess } from '../support/controller-process.ts';

// The shutdown the scenario asks for; the controller's own deadline (9 s) exits with 1 when it is missed.
const SHUTDOWN_LIMIT_MS = 10_000;
// A run-once against an unreachable Route53 spends the reader's whole retry budget (about 6 to 12 s) first.
const FAILING_RUN_TIMEOUT_MS = 60_000;

describe('process lifecycle', () => {
  const suite = scenarioSuite('lifecycle', { webhookReceiver: true });

  /** A namespace with the Thanos Deployment and a zone holding `hosts`. */
  async function world(prefix: string, hosts: readonly string[]) {
    const kubeConfig = suite.peers.controlPlane.kubeConfig();
    const namespace = await suite.peers.controlPlane.createNamespace(prefix);
    await createThanosDeployment(kubeConfig, namespace);
    const zone = await suite.peers.route53.createPrivateZone(`${prefix}.internal.example.com`);
    await suite.peers.route53.upsertRecords(zone, aRecords(hosts));
    return { kubeConfig, namespace, zone };
  }

  /** A controller reading Route53 through the fault proxy and alerting to this test's receiver. */
  function start(namespace: string, zones: readonly string[], extra?: Record<string, string | undefined>) {
    return suite.startController(namespace, zones, extra, { route53: 'proxy', hookUrl: suite.receiver.url });
  }

  async function olderToolConfigMap(kubeConfig: KubeConfig, namespace: string, hosts: readonly string[]) {
    return kubeConfig.makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace,
      body: {
        metadata: { name: THANOS_CONFIGMAP },
        data: { [SD_KEY]: `- targets:\n${hosts.map((host) => `  - ${host}.:10901\n`).join('')}` },
      },
    });
  }

  function expectNoHookUrlIn(running: ControllerProcess): void {
    const url = suite.receiver.url;
    expect(running.output()).not.toContain(url);
    expect(running.output()).not.toContain(new URL(url).pathname);
  }

  describe('RUN_ONCE=true', () => {
    it(
      'makes one pass, writes the ConfigMap and the annotation, and exits 0',
      suite.logged(async () => {
        const hosts = ['cluster-a-grpc.once.internal.example.com', 'cluster-b-grpc.once.internal.example.com'];
        const { kubeConfig, namespace, zone } = await world('once', hosts);

        const running = await start(namespace, [zone], { RUN_ONCE: 'true' });
        expect(await running.exited).toBe(0);

        expect((await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
        expect(templateHash(await readDeployment(kubeConfig, namespace))).toBe(expectedHash(hosts));
        expect(running.logs().find((line) => line.message === 'run once finished')?.['outcome']).toBe('success');
        // One poll, one pass.
        expect(running.logs().filter((line) => line.message === 'read Route53 zones')).toHaveLength(1);
        expect(suite.receiver.posts).toHaveLength(0);
      }),
    );

    it(
      'confirms a removal across runs through the ConfigMap annotation, with the default hysteresis',
      suite.logged(async () => {
        const hosts = ['cluster-a-grpc.once-removal.internal.example.com', 'cluster-b-grpc.once-removal.internal.example.com'];
        const { kubeConfig, namespace, zone } = await world('once-removal', hosts);
        const once = async () => {
          const running = await start(namespace, [zone], {
            RUN_ONCE: 'true',
            REMOVAL_CONFIRM_POLLS: undefined,
            MAX_REMOVAL_PERCENT: undefined,
          });
          expect(await running.exited).toBe(0);
        };
        await once();
        await suite.peers.route53.deleteRecords(zone, aRecords(hosts).slice(1));
        // The first run that misses b keeps it and carries the count; the next confirms it.
        await once();
        const kept = await readConfigMap(kubeConfig, namespace);
        expect(kept?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
        const pending = parsePending(kept?.metadata?.annotations?.['thanos-store-discovery/pending-removals'], hosts);
        expect([...pending.missing]).toEqual([[hosts[1], 1]]);
        await once();
        const confirmed = await readConfigMap(kubeConfig, namespace);
        expect(confirmed?.data?.[SD_KEY]).toBe(expectedFileSd(hosts.slice(0, 1)));
        // Nothing missing any more (the annotation may still carry the removal window's counts).
        const after = parsePending(confirmed?.metadata?.annotations?.['thanos-store-discovery/pending-removals'], hosts.slice(0, 1));
        expect(after.missing.size).toBe(0);
      }),
    );

    it(
      'exits non-zero without touching the ConfigMap when Route53 cannot be read',
      suite.logged(async () => {
        const hosts = ['cluster-a-grpc.once-failing.internal.example.com', 'cluster-b-grpc.once-failing.internal.example.com'];
        const { kubeConfig, namespace, zone } = await world('once-failing', hosts);
        const created = await olderToolConfigMap(kubeConfig, namespace, hosts.slice(0, 1));
        const deployment = await readDeployment(kubeConfig, namespace);

        suite.peers.proxy.inject('reset');
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
        expect(suite.peers.proxy.faultedBy('reset')).toBeGreaterThanOrEqual(6);
        expect(suite.receiver.posts).toHaveLength(1);
        expect(suite.receiver.bodies[0]).toMatchObject({
          attachments: [
            { fields: [{ title: expect.stringMatching(/Route53/) }, { title: 'Error Message', value: expect.stringContaining(zone) }] },
          ],
        });
        expectNoHookUrlIn(running);
      }),
      FAILING_RUN_TIMEOUT_MS + 30_000,
    );
  });

  it(
    'exits 2 on a bad environment, printing every problem, writing nothing and sending the config alert',
    suite.logged(async () => {
      const hosts = ['cluster-a-grpc.bad-env.internal.example.com'];
      const { kubeConfig, namespace, zone } = await world('bad-env', hosts);
      const deployment = await readDeployment(kubeConfig, namespace);
      const route53Requests = () => suite.peers.proxy.forwarded + suite.peers.proxy.faulted;
      const requestsBefore = route53Requests();

      const running = await start(namespace, [zone], { THANOS_NAMESPACE: undefined, POLL_INTERVAL_SECONDS: 'abc', RESTART_MODE: 'bogus' });
      expect(await running.exited).toBe(2);

      const output = running.output();
      const problems = [
        /THANOS_NAMESPACE is required/,
        /POLL_INTERVAL_SECONDS="abc" is not a whole number/,
        /RESTART_MODE="bogus" is not one of annotation, none/,
      ];
      for (const problem of problems) expect(output).toMatch(new RegExp(`^config error: ${problem.source}`, 'm'));
      expect(await readConfigMap(kubeConfig, namespace)).toBeUndefined();
      expect((await readDeployment(kubeConfig, namespace))?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
      expect(route53Requests()).toBe(requestsBefore);

      expect(suite.receiver.posts).toHaveLength(1);
      const body = suite.receiver.bodies[0] as { attachments: [{ fields: [unknown, { value: string }] }] };
      expect(body).toMatchObject({
        username: 'Thanos Store Discovery',
        attachments: [
          {
            color: '#FF0000',
            fields: [
              { title: expect.stringMatching(/invalid configuration/), short: false },
              { title: 'Error Message', short: false },
            ],
          },
        ],
      });
      for (const problem of problems) expect(body.attachments[0].fields[1].value).toMatch(problem);
      expectNoHookUrlIn(running);
    }),
  );

  describe('SIGTERM', () => {
    it(
      'during a slow poll: exits 0 in time and leaves no half-written state',
      suite.logged(async () => {
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
        suite.peers.proxy.inject('slow', { delayMs: 5_000 });
        const all = [...hosts, 'cluster-c-grpc.sigterm-busy.internal.example.com'];
        await suite.peers.route53.upsertRecords(zone, aRecords(all));
        const held = suite.peers.proxy.faultedBy('slow');
        await waitFor(() => suite.peers.proxy.faultedBy('slow') > held, 'a poll in flight after the change', 10_000, logTail(running));

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
      }),
    );

    it(
      'when idle: exits 0 at once, not at the next poll',
      suite.logged(async () => {
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
      }),
    );
  });
});
