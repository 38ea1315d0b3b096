// Alerts are sent off the reconcile pass: a hook that hangs or fails neither slows a repair nor floods the channel.
// Route53 reads come back empty (every -grpc record deleted), so every pass raises the same alert.
import { CoreV1Api } from '@kubernetes/client-node';
import { expectedFileSd, readConfigMap, SD_KEY, THANOS_CONFIGMAP } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, expectWithin, logTail, scenarioSuite, waitForPolls } from '../support/scenario.ts';

const ALERTS = 'thanos_store_discovery_alerts_total';
const EMPTY_SKIPS = 'thanos_store_discovery_empty_result_skips_total';
const NO_ENDPOINTS = 'Thanos store discovery found no endpoints';
// The target: a deleted ConfigMap is back within a second even while the hook hangs.
const REPAIR_DEADLINE_MS = 1_000;
const REPEAT_SECONDS = 3;

describe('alerts off the repair path', () => {
  const suite = scenarioSuite('alerts-off-path', { webhookReceiver: true });

  /** A converged controller whose zone then loses every matching record; resolves once reads come back empty. */
  async function emptied(prefix: string, extra: Record<string, string> = {}) {
    const domain = `${prefix}.internal.example.com`;
    const hosts = [`cluster-a-grpc.${domain}`, `cluster-b-grpc.${domain}`];
    const { kubeConfig, namespace, zone } = await suite.prepare({ prefix, domain, records: aRecords(hosts) });
    const running = await suite.startController(namespace, [zone], extra, { hookUrl: suite.receiver.url });
    await waitFor(
      async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts),
      'the first convergence',
      30_000,
      logTail(running),
    );
    await suite.peers.route53.deleteRecords(zone, aRecords(hosts));
    await waitFor(async () => (await running.metric(EMPTY_SKIPS)) >= 1, 'an empty Route53 read', 30_000, logTail(running));
    return { kubeConfig, namespace, hosts, running };
  }

  const titles = () =>
    suite.receiver.posts.map((post) => (post.json as { attachments: [{ fields: [{ title: string }] }] }).attachments[0].fields[0].title);

  it(
    'restores a deleted ConfigMap within a second while the hook hangs, and posts the alert once',
    suite.logged(async () => {
      suite.receiver.respondSlowly(60_000);
      const { kubeConfig, namespace, hosts, running } = await emptied('hung-hook');
      await suite.receiver.waitForBodies(1, 10_000);
      // More passes while the post hangs: each raises the alert again.
      await waitForPolls(running, 2);

      await kubeConfig.makeApiClient(CoreV1Api).deleteNamespacedConfigMap({ namespace, name: THANOS_CONFIGMAP });
      const deletedAt = Date.now();
      await expectWithin(
        deletedAt,
        REPAIR_DEADLINE_MS,
        async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts),
        'the deleted ConfigMap restored',
        running,
      );
      const restoredMs = Date.now() - deletedAt;

      // Past the 5 s send timeout: the timed-out post holds its repeat window, so it is not posted again.
      await waitForPolls(running, 7);
      expect(titles()).toEqual([NO_ENDPOINTS]);
      expect(await running.metric(ALERTS, { outcome: 'failed' })).toBe(1);
      expect(await running.metric(ALERTS, { outcome: 'suppressed' })).toBeGreaterThanOrEqual(5);
      process.stdout.write(`hung hook: deleted ConfigMap restored in ${restoredMs} ms\n`);
    }),
    180_000,
  );

  it(
    'posts to a hook answering 500 at most once per repeat window',
    suite.logged(async () => {
      suite.receiver.respondWith(500);
      const { running } = await emptied('failing-hook', { ALERT_REPEAT_SECONDS: String(REPEAT_SECONDS) });
      // Three windows' worth of one-second passes, each raising the alert.
      await suite.receiver.waitForBodies(3, 30_000);
      await waitForPolls(running, 2);

      expect(new Set(titles())).toEqual(new Set([NO_ENDPOINTS]));
      const at = suite.receiver.posts.map((post) => post.at);
      const gaps = at.slice(1).map((time, i) => time - at[i]!);
      // A window opens when the alert is queued; the post follows within milliseconds, so allow a little less.
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(REPEAT_SECONDS * 1000 - 250);
      expect(await running.metric(ALERTS, { outcome: 'failed' })).toBe(suite.receiver.posts.length);
      expect(await running.metric(ALERTS, { outcome: 'sent' })).toBe(0);
    }),
    120_000,
  );
});
