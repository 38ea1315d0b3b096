import { createThanosDeployment, expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, expectedHash, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';

describe('the Thanos Deployment missing', () => {
  const suite = scenarioSuite('no-deployment');

  it(
    'keeps the ConfigMap current meanwhile, then rolls the Deployment once when it appears',
    suite.logged(async () => {
      const first = ['cluster-a-grpc.internal.example.com', 'cluster-b-grpc.internal.example.com'];
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'no-deployment', records: aRecords(first), deployment: false });
      const running = await suite.startController(namespace, [zone]);
      const publishes = (hosts: readonly string[]) => async () =>
        (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts);

      await waitFor(publishes(first), 'the ConfigMap', 30_000, logTail(running));
      await running.waitForLog(
        (line) => line.level === 'warn' && /Deployment not found/.test(line.message ?? ''),
        'the missing Deployment reported',
      );

      const second = [...first, 'cluster-c-grpc.internal.example.com'];
      await suite.peers.route53.upsertRecords(zone, aRecords(second).slice(2));
      await waitFor(publishes(second), 'the ConfigMap to follow the added record', 15_000, logTail(running));
      expect(await readDeployment(kubeConfig, namespace)).toBeUndefined();
      expect(await running.metric(METRICS.restarts)).toBe(0);

      await createThanosDeployment(kubeConfig, namespace);
      const rolled = async () => templateHash(await readDeployment(kubeConfig, namespace)) !== undefined;
      await waitFor(rolled, 'the annotation', 15_000, logTail(running));
      await waitForPolls(running, 3);
      const deployment = await readDeployment(kubeConfig, namespace);
      expect(templateHash(deployment)).toBe(expectedHash(second));
      expect(deployment?.metadata?.generation).toBe(2);
      expect(await running.metric(METRICS.restarts)).toBe(1);
    }),
  );
});
