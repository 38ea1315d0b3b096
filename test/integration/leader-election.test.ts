import { CoordinationV1Api } from '@kubernetes/client-node';
import type { ControllerProcess, LogLine } from '../support/controller-process.ts';
import { expectedFileSd, readConfigMap, SD_KEY } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';

const LEADER = 'thanos_store_discovery_leader';

describe('leader election with two replicas', () => {
  const suite = scenarioSuite('leader-election');

  it(
    'lets one replica write while the other stands by ready, and hands over on SIGTERM',
    suite.logged(async () => {
      const a = 'cluster-a-grpc.internal.example.com';
      const b = 'cluster-b-grpc.internal.example.com';
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'leader', records: aRecords([a]) });
      const replica = (name: string) => suite.startController(namespace, [zone], { LEADER_ELECTION: 'true', POD_NAME: name });
      const first = await replica('replica-1');
      await waitFor(async () => (await first.metric(LEADER)) === 1, 'replica-1 to lead', 30_000, logTail(first));
      const second = await replica('replica-2');
      await first.waitUntilReady();
      await second.waitUntilReady();

      const publishes = (hosts: readonly string[], running: ControllerProcess) =>
        waitFor(
          async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts),
          `the ConfigMap with ${hosts.length} hosts`,
          30_000,
          logTail(running),
        );
      await publishes([a], first);
      await waitForPolls(first, 2);
      // The standby never polls Route53 and never writes.
      expect(await second.metric(LEADER)).toBe(0);
      expect(await second.metric(METRICS.polls, { outcome: 'success' })).toBe(0);
      expect(await second.metric(METRICS.configMapWrites, { operation: 'create' })).toBe(0);
      const lease = await kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: 'thanos-store-discovery' });
      expect(lease.spec?.holderIdentity).toMatch(/^replica-1_[0-9a-f]{8}$/);

      // The leader releases the lease as it stops, so the standby takes over within a retry period, not a lease duration.
      expect((await first.terminate('SIGTERM')).code).toBe(0);
      const releasedAt = Date.now();
      await waitFor(async () => (await second.metric(LEADER)) === 1, 'replica-2 to take over', 15_000, logTail(second));
      expect(Date.now() - releasedAt).toBeLessThan(15_000);
      await suite.peers.route53.upsertRecords(zone, aRecords([a, b]));
      await publishes([a, b], second);
    }),
  );
});

describe('leader election safety', () => {
  const suite = scenarioSuite('leader-safety');
  const LEASE = 'thanos-store-discovery';

  it(
    'lets only one of two processes with the same pod name and hostname lead',
    suite.logged(async () => {
      const a = 'cluster-a-grpc.internal.example.com';
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'same-host', records: aRecords([a]) });
      // Two processes on one host with a copied pod spec: the same POD_NAME and HOSTNAME.
      const twin = () => suite.startController(namespace, [zone], { LEADER_ELECTION: 'true', POD_NAME: 'thanos-sd-0', HOSTNAME: 'node-1' });
      const first = await twin();
      await waitFor(async () => (await first.metric(LEADER)) === 1, 'the first twin to lead', 30_000, logTail(first));
      const second = await twin();
      await second.waitUntilReady();
      await waitForPolls(first, 3);
      expect(await second.metric(LEADER)).toBe(0);
      expect(await second.metric(METRICS.polls, { outcome: 'success' })).toBe(0);
      const lease = await kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: LEASE });
      expect(lease.spec?.holderIdentity).toMatch(/^thanos-sd-0_[0-9a-f]{8}$/);
      expect(first.logs().find((line) => line.message === 'became leader')?.['identity']).toBe(lease.spec?.holderIdentity);
    }),
  );

  // Frozen past its lease while a standby takes over, a leader must not write when it resumes: its timers all fire
  // at once, a poll and a pass among them, and only the write fence stands between them and the API.
  it.each([1, 2, 3])(
    'a leader frozen past its lease never writes after it resumes (run %i)',
    (run) =>
      suite.logged(async () => {
        const host = (label: string) => `${label}-grpc.frozen${run}.example.com`;
        const { kubeConfig, namespace, zone } = await suite.prepare({
          prefix: `frozen${run}`,
          domain: `frozen${run}.example.com`,
          records: aRecords([host('a')]),
        });
        // The storm guard makes the leader hold a restart back for a few seconds: frozen then, it wakes with a pass
        // due at once, racing its own renewal loop to the API. The window must outlast the standby's start on a loaded
        // machine (3 s did not), and end within the freeze (at least the 15 s lease).
        const replica = (name: string) =>
          suite.startController(namespace, [zone], { LEADER_ELECTION: 'true', POD_NAME: name, RESTART_MIN_INTERVAL_SECONDS: '10' });
        const leader = await replica('leader');
        await waitFor(async () => (await leader.metric(LEADER)) === 1, 'the leader', 30_000, logTail(leader));
        await waitFor(
          async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd([host('a')]),
          'the first list',
          30_000,
          logTail(leader),
        );
        const standby = await replica('standby');
        await standby.waitUntilReady();
        await suite.peers.route53.upsertRecords(zone, aRecords([host('a'), host('b')]));
        await waitFor(
          async () => (await leader.metric(`thanos_store_discovery_restart_deferred`)) === 1,
          'a deferred restart',
          15_000,
          logTail(leader),
        );
        const writesBefore = leader.logs().filter(isWrite).length;

        leader.signal('SIGSTOP');
        try {
          // The lease is 15 s; the standby takes over once it has seen it unchanged that long.
          await waitFor(async () => (await standby.metric(LEADER)) === 1, 'the standby to take over', 40_000, logTail(standby));
          await waitFor(
            async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd([host('a'), host('b')]),
            'the new leader to publish b',
            30_000,
            logTail(standby),
          );
          // And a change only the new leader should publish, made while the old one is still frozen.
          await suite.peers.route53.upsertRecords(zone, aRecords([host('a'), host('b'), host('c')]));
        } finally {
          leader.signal('SIGCONT');
        }
        expect(await leader.exited).toBe(1);
        expect(leader.logs().filter(isWrite)).toHaveLength(writesBefore);
        expect(leader.logs().some((line) => line.message === 'lost leadership')).toBe(true);
        await waitFor(
          async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd([host('a'), host('b'), host('c')]),
          'the new leader to publish c',
          30_000,
          logTail(standby),
        );
      })(),
    120_000,
  );
});

function isWrite(line: LogLine): boolean {
  return line.message === 'ConfigMap written' || line.message === 'rolling restart triggered';
}
