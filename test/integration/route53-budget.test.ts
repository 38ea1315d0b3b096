import { createThanosDeployment } from '../support/thanos.ts';
import { aRecords, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';
import type { LogLine } from '../support/controller-process.ts';

const PAGE_SIZE = 300;
const MAX_RPS = 2;

describe('Route53 request budget', () => {
  const suite = scenarioSuite('budget');

  it(
    'makes exactly ceil(record sets / 300) calls per zone and poll, none retried, and keeps to ROUTE53_MAX_RPS',
    suite.logged(async () => {
      const { controlPlane, route53, proxy } = suite.peers;
      const namespace = await controlPlane.createNamespace('budget');
      await createThanosDeployment(controlPlane.kubeConfig(), namespace);
      // 700 stores as in the measurement, and a second zone one record set past a page boundary.
      const zones = await Promise.all(
        [
          ['east', 700],
          ['west', 299],
        ].map(async ([region, stores]) => {
          const domain = `${region}.internal.example.com`;
          const id = await route53.createPrivateZone(domain);
          await route53.upsertRecords(id, aRecords(Array.from({ length: Number(stores) }, (_, i) => `store-${i}-grpc.${domain}`)));
          const { recordSets } = await route53.listRecordSets(id);
          return { id, pages: Math.ceil(recordSets.length / PAGE_SIZE) };
        }),
      );
      expect(zones.map((zone) => zone.pages)).toEqual([3, 2]);
      const perPoll = zones[0]!.pages + zones[1]!.pages;

      const forwardedBefore = proxy.forwarded;
      const running = await suite.startController(
        namespace,
        zones.map((zone) => zone.id),
        {
          POLL_INTERVAL_SECONDS: '5',
          ROUTE53_MAX_RPS: String(MAX_RPS),
        },
        { route53: 'proxy' },
      );
      // A poll takes about 2 s of its 5 s interval: the snapshot just after one has finished sees no poll in flight.
      await running.waitUntilReady();
      await waitForPolls(running, 3, 60_000);
      const forwarded = proxy.forwarded - forwardedBefore;
      const requests = await Promise.all(
        zones.map((zone) => running.metric(METRICS.route53Requests, { zone: zone.id, outcome: 'success' })),
      );
      const polls = running.logs().filter((line: LogLine) => line.message === 'read Route53 zones');

      expect(polls.length).toBeGreaterThanOrEqual(3);
      for (const poll of polls) expect(poll['requests']).toBe(perPoll);
      // What reached Route53 on the wire, and what the metrics say, agree with the pages: no retry, no extra call.
      expect(forwarded).toBe(polls.length * perPoll);
      expect(requests).toEqual(zones.map((zone) => polls.length * zone.pages));
      expect(running.logs().filter((line) => line.message === 'Route53 request failed, retrying')).toEqual([]);
      // Five calls at two a second start at 0, 0, 1, 1 and 2 s: no poll can be shorter than two seconds.
      for (const poll of polls) expect(Number(poll['durationMs'])).toBeGreaterThanOrEqual(((perPoll - 1) / MAX_RPS) * 1000 - 50);
    }),
  );
});
