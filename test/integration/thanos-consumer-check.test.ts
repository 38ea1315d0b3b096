// The controller reads the Thanos Deployment it already watches and says when it cannot consume the published file:
// a warning log, a Warning Event on the Deployment and consumer_misconfigured{reason}, once per change.
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import type { LogLine } from '../support/controller-process.ts';
import { aRecords, logTail, scenarioSuite, waitForPolls } from '../support/scenario.ts';
import { readDeployment, THANOS_DEPLOYMENT } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';

const MISCONFIGURED = 'thanos_store_discovery_consumer_misconfigured';
const HOST = 'cluster-a-grpc.internal.example.com';

async function consumerEvents(kubeConfig: KubeConfig, namespace: string): Promise<string[]> {
  const { items } = await kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace });
  return items
    .filter((event) => event.reason === 'StoreListNotConsumable' && event.involvedObject.name === THANOS_DEPLOYMENT)
    .map((event) => event.message ?? '');
}

/** Replaces the query container's args and mounts, as a user editing the Deployment would. */
async function editQueryContainer(kubeConfig: KubeConfig, namespace: string, edit: (deployment: V1Deployment) => void): Promise<void> {
  const deployment = await readDeployment(kubeConfig, namespace);
  if (deployment === undefined) throw new Error('no Deployment to edit');
  edit(deployment);
  await kubeConfig.makeApiClient(AppsV1Api).replaceNamespacedDeployment({ namespace, name: THANOS_DEPLOYMENT, body: deployment });
}

describe('the controller checks that Thanos can consume its output', () => {
  const suite = scenarioSuite('thanos-consumer-check');
  const warned = (line: LogLine) => line.message === 'the Thanos Deployment cannot consume the published file';

  it(
    'a file_sd flag with OUTPUT_FORMAT=endpoint-config, then a subPath mount, each said once; fixing clears the gauge',
    suite.logged(async () => {
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'consumer-check', records: aRecords([HOST]) });
      const running = await suite.startController(namespace, [zone], { OUTPUT_FORMAT: 'endpoint-config' });
      const gauge = (reason: string) => running.metric(MISCONFIGURED, { reason });

      await waitFor(async () => (await gauge('flag-for-other-format')) === 1, 'the other-format reason', 30_000, logTail(running));
      await waitFor(async () => (await consumerEvents(kubeConfig, namespace)).length === 1, 'the Event', 15_000, logTail(running));
      expect((await consumerEvents(kubeConfig, namespace))[0]).toMatch(
        /^flag-for-other-format: container query reads \/etc\/thanos\/sd\/servicediscovery.yml with --store.sd-files/,
      );
      // The controller's own restart patch changes the Deployment again: the same problem is not said twice.
      await waitForPolls(running, 3);
      expect(await consumerEvents(kubeConfig, namespace)).toHaveLength(1);
      expect(running.logs().filter(warned)).toHaveLength(1);

      await editQueryContainer(kubeConfig, namespace, (deployment) => {
        const query = deployment.spec!.template.spec!.containers[0]!;
        query.args = ['query', '--endpoint.sd-config-file=/etc/thanos/stores.yml'];
        query.volumeMounts = [{ name: 'sd', mountPath: '/etc/thanos/stores.yml', subPath: 'servicediscovery.yml' }];
      });
      await waitFor(async () => (await gauge('subpath-mount')) === 1, 'the subPath reason', 15_000, logTail(running));
      expect(await gauge('flag-for-other-format')).toBe(0);
      await waitFor(async () => (await consumerEvents(kubeConfig, namespace)).length === 2, 'the second Event', 15_000, logTail(running));

      await editQueryContainer(kubeConfig, namespace, (deployment) => {
        const query = deployment.spec!.template.spec!.containers[0]!;
        query.args = ['query', '--endpoint.sd-config-file=/etc/thanos/sd/servicediscovery.yml'];
        query.volumeMounts = [{ name: 'sd', mountPath: '/etc/thanos/sd' }];
      });
      await waitFor(async () => (await gauge('subpath-mount')) === 0, 'the gauge to clear', 15_000, logTail(running));
      await waitForPolls(running, 2);
      expect(await consumerEvents(kubeConfig, namespace)).toHaveLength(2);
      expect(
        running
          .logs()
          .filter(warned)
          .map((line) => line['reason']),
      ).toEqual(['flag-for-other-format', 'subpath-mount']);
    }),
  );

  it(
    'RESTART_MODE=none with file_sd and no DNS interval flag is fine at the default 60 s poll, not at a 10 s one',
    suite.logged(async () => {
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'consumer-refresh', records: aRecords([HOST]) });
      const running = await suite.startController(namespace, [zone], { RESTART_MODE: 'none', POLL_INTERVAL_SECONDS: '10' });
      await waitFor(
        async () => (await running.metric(MISCONFIGURED, { reason: 'refresh-slower-than-poll' })) === 1,
        'the refresh reason',
        30_000,
        logTail(running),
      );
      expect((await consumerEvents(kubeConfig, namespace))[0]).toMatch(
        /--store.sd-dns-interval \(30s\), longer than the 10 s poll interval/,
      );

      await running.stop();
      const calm = await suite.startController(namespace, [zone], { RESTART_MODE: 'none', POLL_INTERVAL_SECONDS: '60' });
      await waitFor(
        async () => (await calm.metric('thanos_store_discovery_leader')) === 1,
        'the second controller to start',
        30_000,
        logTail(calm),
      );
      const exported = await (await fetch(calm.metricsUrl)).text();
      expect(exported).toContain(`${MISCONFIGURED}{reason="refresh-slower-than-poll"} 0`);
    }),
  );
});
