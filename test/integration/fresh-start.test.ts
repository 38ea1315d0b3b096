import { expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';

describe('fresh start against real peers', () => {
  const suite = scenarioSuite('fresh');

  it(
    'creates the ConfigMap with the exact text and sets the pod-template annotation once',
    suite.logged(async () => {
      const hosts = ['cluster-a-grpc.internal.example.com', 'cluster-b-grpc.internal.example.com', 'cluster-c-grpc.internal.example.com'];
      const { kubeConfig, namespace, zone } = await suite.prepare({
        prefix: 'fresh',
        records: [
          ...hosts.map((name, i) => ({ name, type: 'A' as const, value: `10.0.0.${i + 1}` })),
          { name: 'cluster-a-grpc.internal.example.com', type: 'AAAA', value: 'fd00::1' },
          { name: 'cluster-a-http.internal.example.com', type: 'A', value: '10.0.1.1' },
          { name: 'grpc.internal.example.com', type: 'A', value: '10.0.1.2' },
          { name: 'x.cluster-d-grpc.internal.example.com', type: 'A', value: '10.0.1.3' },
          { name: 'cluster-e-grpc.internal.example.com', type: 'TXT', value: '"not a store"' },
        ],
      });

      const controller = await suite.startController(namespace, [zone]);
      await controller.waitUntilReady();
      await waitFor(async () => (await readConfigMap(kubeConfig, namespace)) !== undefined, 'the ConfigMap', 15_000, logTail(controller));

      const configMap = await readConfigMap(kubeConfig, namespace);
      expect(configMap?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
      expect(configMap?.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('thanos-store-discovery');
      await waitFor(async () => templateHash(await readDeployment(kubeConfig, namespace)) !== undefined, 'the annotation');
      const deployment = await readDeployment(kubeConfig, namespace);
      expect(deployment?.metadata?.generation).toBe(2);

      // Three more polls change nothing: the same set never rolls the pods twice.
      await waitForPolls(controller, 3);
      const after = await readDeployment(kubeConfig, namespace);
      expect(after?.metadata?.generation).toBe(2);
      expect(after?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
      expect(await controller.metric(METRICS.restarts)).toBe(1);
      expect(await controller.metric(METRICS.configMapWrites, { operation: 'create' })).toBe(1);
      expect(await controller.metric(METRICS.endpoints)).toBe(3);

      const { code, ms } = await controller.terminate('SIGTERM');
      expect(code).toBe(0);
      expect(ms).toBeLessThan(10_000);
    }),
  );
});
