import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash, THANOS_CONFIGMAP } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, expectedHash, logTail, scenarioSuite, waitForPolls } from '../support/scenario.ts';

// The informers and the work queue back off while the API server is away (up to 30 s and 60 s), and a restarted
// kube-apiserver takes a while to serve on 2 shared cores: convergence gets minutes, not a deadline.
const RECOVERY_TIMEOUT_MS = 150_000;

/**
 * Reads the ConfigMap every 100 ms in the background and keeps every distinct text it saw (and whether it was ever
 * missing); read errors, expected while the API server is down, are skipped.
 */
function watchConfigMapTexts(kubeConfig: KubeConfig, namespace: string) {
  const seen = new Set<string | undefined>();
  let stopped = false;
  const running = (async () => {
    while (!stopped) {
      try {
        const configMap = await readConfigMap(kubeConfig, namespace);
        seen.add(configMap === undefined ? '<missing>' : configMap.data?.[SD_KEY]);
      } catch {
        // The API server is down.
      }
      await sleep(100);
    }
  })();
  return {
    seen,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

describe('the API server going away mid-run', () => {
  const suite = scenarioSuite('apiserver-restart');

  afterEach(async () => {
    // A failed test may leave the API server stopped; the next one needs it.
    await suite.peers.controlPlane.startApiServer();
  });

  it(
    'keeps running while it is down and converges by itself once it is back, watches included',
    suite.logged(async () => {
      const { controlPlane, route53 } = suite.peers;
      const domain = 'restart.internal.example.com';
      const hosts = [`cluster-a-grpc.${domain}`, `cluster-b-grpc.${domain}`];
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'apiserver-restart', domain, records: aRecords(hosts) });

      const running = await suite.startController(namespace, [zone]);
      let exitCode: number | null | undefined;
      void running.exited.then((code) => (exitCode = code));
      const healthz = running.metricsUrl.replace(/\/metrics$/, '/healthz');
      const publishes = async (expected: readonly string[]) =>
        (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(expected) &&
        templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(expected);
      await waitFor(() => publishes(hosts), 'the first convergence', 30_000, logTail(running));
      await waitForPolls(running, 1);
      const added = `cluster-c-grpc.${domain}`;
      const all = [...hosts, added];
      const edited = expectedFileSd([`intruder-grpc.${domain}`]);
      const texts = watchConfigMapTexts(kubeConfig, namespace);

      try {
        await controlPlane.stopApiServer();
        await route53.upsertRecords(zone, aRecords(all));
        // It polls on, tries to publish the new record and fails, and notices that its watches are gone.
        await waitForPolls(running, 3);
        await running.waitForLog(
          (line) => line.message === 'informer lost its watch, rebuilding',
          'an informer noticing the outage',
          30_000,
        );
        await running.waitForLog((line) => line.message === 'reconcile failed, retrying', 'a failed pass', 30_000);
        expect(exitCode).toBeUndefined();
        expect((await fetch(healthz)).status).toBe(200);

        await controlPlane.startApiServer();
        await waitFor(() => publishes(all), 'the record added during the outage to be published', RECOVERY_TIMEOUT_MS, logTail(running));
        expect(exitCode).toBeUndefined();
        expect((await fetch(healthz)).status).toBe(200);

        // Polls would not repair this: the cache would have to see the edit, so only a live watch (or its relist) can.
        const core = kubeConfig.makeApiClient(CoreV1Api);
        const current = await core.readNamespacedConfigMap({ name: THANOS_CONFIGMAP, namespace });
        await core.replaceNamespacedConfigMap({ name: THANOS_CONFIGMAP, namespace, body: { ...current, data: { [SD_KEY]: edited } } });
        await waitFor(() => publishes(all), 'the hand edit to be repaired', RECOVERY_TIMEOUT_MS, logTail(running));
        expect(exitCode).toBeUndefined();
      } finally {
        await texts.stop();
      }
      // Never emptied, never deleted: only the two published lists and the hand edit ever showed.
      const allowed = [expectedFileSd(hosts), expectedFileSd(all), edited];
      expect([...texts.seen].filter((text) => !allowed.includes(text ?? ''))).toEqual([]);
    }),
    300_000,
  );
});
