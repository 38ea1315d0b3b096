import { createThanosDeployment, expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, expectedHash, logTail, METRICS, scenarioSuite, successfulPolls } from '../support/scenario.ts';

const PER_ZONE = 500;

describe('more matching records than one Route53 page holds', () => {
  const suite = scenarioSuite('many');

  it(
    'reads every page of every zone and publishes all 1,000 endpoints, sorted',
    suite.logged(async () => {
      const { controlPlane, route53 } = suite.peers;
      const kubeConfig = controlPlane.kubeConfig();
      const namespace = await controlPlane.createNamespace('many');
      await createThanosDeployment(kubeConfig, namespace);
      // Same host labels in both zones, so the sorted list interleaves them: a reader that concatenated the zones
      // would not match.
      const zones = await Promise.all(
        ['east', 'west'].map(async (region) => {
          const domain = `${region}.internal.example.com`;
          const id = await route53.createPrivateZone(domain);
          const hosts = Array.from({ length: PER_ZONE }, (_, i) => `store-${String(i).padStart(3, '0')}-grpc.${domain}`);
          await route53.upsertRecords(id, [
            ...aRecords(hosts),
            { name: `store-000-http.${domain}`, type: 'A', value: '10.200.0.1' },
            { name: `grpc.${domain}`, type: 'A', value: '10.200.0.2' },
            { name: `store-000-grpc.${domain}`, type: 'TXT', value: '"not a store"' },
          ]);
          return { id, hosts };
        }),
      );
      const hosts = zones.flatMap((zone) => zone.hosts);
      // 500 stores, 3 unrelated records, SOA and NS: two pages of 300 per zone.
      for (const zone of zones) expect((await route53.listRecordSets(zone.id)).pages).toBe(2);

      // One poll only (the one at start), so the request counts below belong to it.
      const running = await suite.startController(
        namespace,
        zones.map((zone) => zone.id),
        { POLL_INTERVAL_SECONDS: '3600' },
      );
      const rolled = async () => templateHash(await readDeployment(kubeConfig, namespace)) !== undefined;
      await waitFor(rolled, 'the annotation', 30_000, logTail(running));

      expect((await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
      expect(templateHash(await readDeployment(kubeConfig, namespace))).toBe(expectedHash(hosts));
      expect(await running.metric(METRICS.endpoints)).toBe(2 * PER_ZONE);
      expect(await successfulPolls(running)).toBe(1);
      for (const zone of zones) {
        expect(await running.metric(METRICS.route53Requests, { zone: zone.id, outcome: 'success' })).toBe(2);
      }
    }),
  );
});
