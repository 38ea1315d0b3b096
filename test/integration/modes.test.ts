import type { LogLine } from '../support/controller-process.ts';
import { expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, eventCount, expectedHash, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';

describe('RESTART_MODE, OUTPUT_FORMAT and DRY_RUN', () => {
  const suite = scenarioSuite('modes');

  /** A namespace with the Deployment, a zone with `hosts`, and a controller with `extra` settings. */
  async function startWith(prefix: string, hosts: readonly string[], extra: Record<string, string>) {
    const prepared = await suite.prepare({ prefix, records: aRecords(hosts) });
    const running = await suite.startController(prepared.namespace, [prepared.zone], extra);
    return { ...prepared, running };
  }

  const a = 'cluster-a-grpc.internal.example.com';
  const b = 'cluster-b-grpc.internal.example.com';

  it(
    'RESTART_MODE=none keeps the ConfigMap current and never touches the Deployment',
    suite.logged(async () => {
      const { kubeConfig, namespace, zone, deployment, running } = await startWith('restart-none', [a], { RESTART_MODE: 'none' });
      const publishes = (hosts: readonly string[]) => async () =>
        (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts);
      await waitFor(publishes([a]), 'the ConfigMap', 30_000, logTail(running));
      await suite.peers.route53.upsertRecords(zone, [{ name: b, type: 'A', value: '10.9.9.9' }]);
      await waitFor(publishes([a, b]), 'the ConfigMap to follow the added record', 15_000, logTail(running));
      await waitForPolls(running, 2);

      const after = await readDeployment(kubeConfig, namespace);
      expect(after?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
      expect(templateHash(after)).toBeUndefined();
      expect(await running.metric(METRICS.restarts)).toBe(0);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'create' })).toBe(1);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'update' })).toBe(1);
    }),
  );

  it(
    'OUTPUT_FORMAT=endpoint-config writes the endpoints: document',
    suite.logged(async () => {
      const { kubeConfig, namespace, running } = await startWith('endpoint-config', [b, a], { OUTPUT_FORMAT: 'endpoint-config' });
      const rolled = async () => templateHash(await readDeployment(kubeConfig, namespace)) !== undefined;
      await waitFor(rolled, 'the annotation', 30_000, logTail(running));

      const text = (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY];
      expect(text).toBe(`endpoints:\n  - address: ${a}.:10901\n  - address: ${b}.:10901\n`);
      const deployment = await readDeployment(kubeConfig, namespace);
      expect(templateHash(deployment)).toBe(expectedHash([a, b]));
      expect(deployment?.metadata?.generation).toBe(2);
    }),
  );

  it(
    'DRY_RUN=true writes nothing and logs what it would write',
    suite.logged(async () => {
      const { kubeConfig, namespace, deployment, running } = await startWith('dry-run', [a, b], { DRY_RUN: 'true' });
      const logged = (message: string) => (line: LogLine) => line.message === message;
      const wouldWrite = await running.waitForLog(logged('dry run: would write ConfigMap'), 'the ConfigMap it would write', 30_000);
      expect(wouldWrite['text']).toBe(expectedFileSd([a, b]));
      const wouldPatch = await running.waitForLog(logged('dry run: would patch the Deployment pod template'), 'the patch it would make');
      expect(wouldPatch['hash']).toBe(expectedHash([a, b]));
      await waitForPolls(running, 3);

      expect(await readConfigMap(kubeConfig, namespace)).toBeUndefined();
      const after = await readDeployment(kubeConfig, namespace);
      expect(after?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
      expect(templateHash(after)).toBeUndefined();
      expect(await eventCount(kubeConfig, namespace)).toBe(0);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'create' })).toBe(0);
      expect(await running.metric(METRICS.configMapWrites, { operation: 'update' })).toBe(0);
      expect(await running.metric(METRICS.restarts)).toBe(0);
    }),
  );
});
