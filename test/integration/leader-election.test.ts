import { CoordinationV1Api } from '@kubernetes/client-node';
import type { ControllerProcess } from '../support/controller-process.ts';
import { expectedFileSd, readConfigMap, SD_KEY } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';

const LEADER = 'thanos_store_discovery_leader';

describe('leader election with two replicas', () => {
  const suite = scenarioSuite('leader-election');

  it('lets one replica write while the other stands by ready, and hands over on SIGTERM', suite.logged(async () => {
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
      waitFor(async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts), `the ConfigMap with ${hosts.length} hosts`, 30_000, logTail(running));
    await publishes([a], first);
    await waitForPolls(first, 2);
    // The standby never polls Route53 and never writes.
    expect(await second.metric(LEADER)).toBe(0);
    expect(await second.metric(METRICS.polls, { outcome: 'success' })).toBe(0);
    expect(await second.metric(METRICS.configMapWrites, { operation: 'create' })).toBe(0);
    const lease = await kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: 'thanos-store-discovery' });
    expect(lease.spec?.holderIdentity).toBe('replica-1');

    // The leader releases the lease as it stops, so the standby takes over within a retry period, not a lease duration.
    expect((await first.terminate('SIGTERM')).code).toBe(0);
    const releasedAt = Date.now();
    await waitFor(async () => (await second.metric(LEADER)) === 1, 'replica-2 to take over', 15_000, logTail(second));
    expect(Date.now() - releasedAt).toBeLessThan(15_000);
    await suite.peers.route53.upsertRecords(zone, aRecords([a, b]));
    await publishes([a, b], second);
  }));
});
