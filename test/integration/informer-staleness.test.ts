import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../support/wait.ts';
import { aRecords, logTail, scenarioSuite } from '../support/scenario.ts';

const STALENESS = 'thanos_store_discovery_informer_staleness_seconds';
const EVENTS = 'thanos_store_discovery_informer_events_total';
const MAX_STALENESS_SECONDS = 70;

describe('informer staleness on the real apiserver', () => {
  const suite = scenarioSuite('staleness');

  afterEach(async () => {
    await suite.peers.controlPlane.startApiServer();
  });

  it(
    'stays ready on a quiet watch (bookmarks), turns unready when the API is gone past the limit, and recovers',
    suite.logged(async () => {
      const { controlPlane } = suite.peers;
      const domain = 'stale.internal.example.com';
      const { namespace, zone } = await suite.prepare({ prefix: 'staleness', domain, records: aRecords([`a-grpc.${domain}`]) });
      const running = await suite.startController(namespace, [zone], {
        POLL_INTERVAL_SECONDS: '5',
        INFORMER_MAX_STALENESS_SECONDS: String(MAX_STALENESS_SECONDS),
      });
      const readyz = running.metricsUrl.replace(/\/metrics$/, '/readyz');
      const healthz = running.metricsUrl.replace(/\/metrics$/, '/healthz');
      const ready = async () => (await fetch(readyz)).status === 200;
      await waitFor(ready, 'ready', 30_000, logTail(running));
      const watches = () => running.metric(EVENTS, { resource: 'configmap', event: 'watch' });
      const watchesBefore = await watches();

      // Quiet for longer than the staleness limit: only bookmarks (about one a minute) keep the informer fresh.
      let maxSeen = 0;
      for (let waited = 0; waited < (MAX_STALENESS_SECONDS + 10) * 1000; waited += 2_000) {
        await sleep(2_000);
        expect(await ready()).toBe(true);
        maxSeen = Math.max(maxSeen, await running.metric(STALENESS, { resource: 'configmap' }));
      }
      expect(maxSeen).toBeLessThan(MAX_STALENESS_SECONDS);
      expect(maxSeen).toBeGreaterThan(0);
      // The same watch the whole time: no reconnect while quiet.
      expect(await watches()).toBe(watchesBefore);

      await controlPlane.stopApiServer();
      const stoppedAt = Date.now();
      await waitFor(async () => !(await ready()), 'readyz to fail', (MAX_STALENESS_SECONDS + 30) * 1000, logTail(running));
      // Not before the informers had been silent for the whole limit (the last bookmark may predate the outage).
      const unreadyAfterMs = Date.now() - stoppedAt;
      const body = await (await fetch(readyz)).text();
      expect(body).toMatch(/informer has not heard from the Kubernetes API for \d+s/);
      // The first informer past the limit fails the check; the other last heard a bookmark at about the same time.
      const staleness = await Promise.all(['configmap', 'deployment'].map((resource) => running.metric(STALENESS, { resource })));
      expect(Math.max(...staleness)).toBeGreaterThan(MAX_STALENESS_SECONDS);
      expect(Math.min(...staleness)).toBeGreaterThan(MAX_STALENESS_SECONDS - 10);
      // Liveness is about the poll loop, which still runs: no restart for an API outage.
      expect((await fetch(healthz)).status).toBe(200);
      expect(unreadyAfterMs).toBeLessThanOrEqual((MAX_STALENESS_SECONDS + 5) * 1000);

      await controlPlane.startApiServer();
      await waitFor(ready, 'readyz to recover', 90_000, logTail(running));
      expect(await running.metric(STALENESS, { resource: 'configmap' })).toBeLessThan(MAX_STALENESS_SECONDS);
    }),
    360_000,
  );
});
