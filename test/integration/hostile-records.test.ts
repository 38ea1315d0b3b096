import { expectedFileSd, readConfigMap, SD_KEY } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, logTail, scenarioSuite, waitForPolls } from '../support/scenario.ts';

const SKIPPED = 'thanos_store_discovery_records_skipped_total';

describe('records whose names cannot be store endpoints', () => {
  const suite = scenarioSuite('hostile-records');

  it(
    'never publishes a name with an escaped dot, and says which record it skipped and why',
    suite.logged(async () => {
      const domain = 'hostile.internal.example.com';
      const good = `good-grpc.${domain}`;
      const records = aRecords([
        good,
        // First label `esc-grpc.inner`: it does not end with -grpc, so it is no candidate at all.
        `esc-grpc\\056inner.${domain}`,
        // First label `esc.-grpc` ends with -grpc but holds a dot: skipped, never published as `esc.-grpc...`.
        `esc\\056-grpc.${domain}`,
        // A dot escaped inside a later label.
        `later-grpc.in\\056ner.${domain}`,
      ]);
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'hostile', domain, records });
      // What moto hands back is what Route53 does: the dot inside a label stays escaped.
      const listed = (await suite.peers.route53.listRecordSets(zone)).recordSets.map((set) => set.Name);
      expect(listed).toEqual(expect.arrayContaining([`esc\\056-grpc.${domain}.`, `later-grpc.in\\056ner.${domain}.`]));

      const controller = await suite.startController(namespace, [zone]);
      await waitFor(
        async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] !== undefined,
        'a published list',
        30_000,
        logTail(controller),
      );
      await waitForPolls(controller, 1);

      expect((await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY]).toBe(expectedFileSd([good]));
      expect(await controller.metric(SKIPPED, { reason: 'not_a_hostname' })).toBeGreaterThanOrEqual(2);
      const warnings = controller.logs().filter((line) => line.message === 'skipped a Route53 record that cannot be a store endpoint');
      expect(warnings.map((line) => line['record']).sort()).toEqual([`esc\\056-grpc.${domain}`, `later-grpc.in\\056ner.${domain}`]);
      expect(warnings.every((line) => line.level === 'warn' && line['reason'] === 'not_a_hostname')).toBe(true);
    }),
  );
});
