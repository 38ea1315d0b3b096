// The delivery check against a real Thanos Query: the controller reads /api/v1/stores from every Thanos pod (listed by
// the Deployment's selector; the Pod objects carry, in status.podIP, the loopback address each Thanos process serves
// on) and tells which published store Thanos does not use: one stopped (unhealthy), one never started (unseen), and a
// pod started with a stale file (unseen there, and an endpoint it lists that is no longer published).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { HostsFile } from '../peers/hosts-namespace.ts';
import { freePort } from '../peers/ports.ts';
import { startThanosStore, type ThanosStore } from '../peers/thanos.ts';
import { createRunningPod, deliveryStates, startQueryPod, type QueryPod } from '../support/query-pod.ts';
import { aRecords, logTail, scenarioSuite } from '../support/scenario.ts';
import { waitFor } from '../support/wait.ts';

const STORE_PORT = 10901;
const REFRESH_SECONDS = 2;
const ALERT_AFTER_SECONDS = 4;
const [A, B, C, D] = [
  'cluster-a-grpc.internal.example.com',
  'cluster-b-grpc.internal.example.com',
  'cluster-c-grpc.internal.example.com',
  'cluster-d-grpc.internal.example.com',
] as const;
const METRIC = 'thanos_store_discovery_delivery_';

describe('delivery check against a real Thanos Query', () => {
  const suite = scenarioSuite('thanos-delivery', { webhookReceiver: true });
  let dir: string;
  let hosts: HostsFile;
  let net: string;
  const stores = new Map<string, ThanosStore>();
  const pods: QueryPod[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsd-thanos-delivery-'));
    hosts = new HostsFile(join(dir, 'hosts'));
    net = `127.${randomInt(16, 250)}.${randomInt(1, 250)}`;
    // C is published but never started.
    for (const [i, host] of [A, B, C, D].entries()) await hosts.set(host, `${net}.${i + 1}`);
    for (const [i, host] of [A, B, D].entries())
      stores.set(host, await startThanosStore({ ip: `${net}.${[1, 2, 4][i]}`, grpcPort: STORE_PORT }));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(pods.map((pod) => pod.stop()));
    await Promise.all([...stores.values()].map((store) => store.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'reports a stopped store as unhealthy, a never-started one as unseen, and a pod holding a stale file',
    suite.logged(async () => {
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'thanos-delivery', records: aRecords([A, B]) });
      const httpPort = await freePort();
      const [pod1, pod2] = [`${net}.11`, `${net}.12`];
      const controller = await suite.startController(
        namespace,
        [zone],
        {
          OUTPUT_FORMAT: 'endpoint-config',
          RESTART_MODE: 'none',
          THANOS_QUERY_URL: `http://${pod1}:${httpPort}`,
          DELIVERY_CHECK_INTERVAL_SECONDS: '1',
          DELIVERY_ALERT_AFTER_SECONDS: String(ALERT_AFTER_SECONDS),
        },
        { hookUrl: suite.receiver.url },
      );
      const states = async () => JSON.parse(await deliveryStates(controller)) as Record<string, number>;
      const context = () =>
        `${logTail(controller)()}\ndelivery check log: ${JSON.stringify(
          controller
            .logs()
            .filter((l) => String(l.message).includes('Thanos Query'))
            .slice(-3),
        )}`;

      // Pod 1 reads the ConfigMap through a kubelet-style volume, as the Deployment's pods do.
      const common = { kubeConfig, namespace, hosts, dir, port: httpPort, refreshSeconds: REFRESH_SECONDS };
      pods.push(await startQueryPod({ ...common, name: 'pod-1', ip: pod1 }));
      await createRunningPod(kubeConfig, namespace, 'thanos-query-1', pod1);
      expect(await controller.metric(`${METRIC}last_match_timestamp_seconds`)).toBe(0);
      await waitFor(async () => (await states())['healthy'] === 2, 'both published stores healthy in Thanos', 60_000, context);
      expect(await states()).toEqual({ healthy: 2, unhealthy: 0, unseen: 0, awaiting_rollout: 0, unpublished: 0 });
      expect((await controller.metric(`${METRIC}last_match_timestamp_seconds`)) * 1000).toBeGreaterThan(Date.now() - 60_000);

      // B stops; C is published but no store ever serves it.
      await stores.get(B)!.stop();
      stores.delete(B);
      await suite.peers.route53.upsertRecords(zone, aRecords([A, B, C]).slice(2));
      await waitFor(
        async () =>
          JSON.stringify(await states()) === JSON.stringify({ healthy: 1, unhealthy: 1, unseen: 1, awaiting_rollout: 0, unpublished: 0 }),
        'B unhealthy and C unseen',
        60_000,
        context,
      );
      // From here on nothing matches, so the time of the last match stands still.
      const matchedAt = await controller.metric(`${METRIC}last_match_timestamp_seconds`);
      // Each problem is alerted once it is older than the threshold; C's started first, so a later alert names both.
      const alerted = (text: string) => suite.receiver.bodies.some((body) => JSON.stringify(body).includes(text));
      await waitFor(
        () =>
          alerted(`${B}:${STORE_PORT} unhealthy in Thanos Query (pod/thanos-query-1: `) &&
          alerted(`${C}:${STORE_PORT} not known to Thanos Query (pod/thanos-query-1)`),
        "alerts naming B as unhealthy (with Thanos's error) and C as unseen",
        (ALERT_AFTER_SECONDS + 20) * 1000,
        context,
      );
      expect(JSON.stringify(suite.receiver.bodies[0])).toContain('Thanos Query is not using every published store');
      const events = async () =>
        (await kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace })).items.filter(
          (event) => event.reason === 'StoreNotUsedByThanos',
        );
      await waitFor(async () => (await events()).length === 2, 'an Event for B and one for C', 15_000, context);
      expect((await events()).map((event) => event.involvedObject.name)).toEqual(['thanos-query', 'thanos-query']);
      expect(await controller.metric(`${METRIC}last_match_timestamp_seconds`)).toBe(matchedAt);

      // Pod 2 started from a stale file: it never loaded the list (A and the retired D).
      const stale = join(dir, 'stale.yml');
      await writeFile(stale, `endpoints:\n  - address: ${A}.:${STORE_PORT}\n  - address: ${D}.:${STORE_PORT}\n`);
      pods.push(await startQueryPod({ ...common, name: 'pod-2', ip: pod2, staleFile: stale }));
      await createRunningPod(kubeConfig, namespace, 'thanos-query-2', pod2);
      await waitFor(
        async () =>
          JSON.stringify(await states()) === JSON.stringify({ healthy: 1, unhealthy: 0, unseen: 2, awaiting_rollout: 0, unpublished: 1 }),
        'the stale pod found: B unseen there, D listed though unpublished',
        60_000,
        context,
      );
      await waitFor(
        () => alerted(`${B}:${STORE_PORT} not known to Thanos Query (pod/thanos-query-2)`),
        'an alert naming the stale pod',
        (ALERT_AFTER_SECONDS + 20) * 1000,
        context,
      );
    }),
    240_000,
  );
});
