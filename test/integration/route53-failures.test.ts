import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import type { FixtureRecord } from '../peers/route53-fixture.ts';
import type { WebhookReceiver } from '../peers/webhook-receiver.ts';
import {
  createThanosDeployment,
  expectedFileSd,
  readConfigMap,
  readDeployment,
  SD_KEY,
  templateHash,
  THANOS_CONFIGMAP,
} from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, expectedHash, logTail, METRICS, scenarioSuite, waitForPolls } from '../support/scenario.ts';
import type { ControllerProcess } from '../support/controller-process.ts';

const ALERTS = 'thanos_store_discovery_alerts_total';
const EMPTY_SKIPS = 'thanos_store_discovery_empty_result_skips_total';
// The reader's retry budget: one attempt and 5 retries per page.
const ATTEMPTS_PER_PAGE = 6;
// A failed poll spends its backoff (200 ms doubling, randomised up to x2: at most about 12 s) before it reports.
const FAILING_POLLS_TIMEOUT_MS = 60_000;

/** The older CronJob's webhook body (COMPAT.md), with the two texts left to the caller's matchers. */
function olderToolAlert(title: unknown, errorText: unknown) {
  return {
    username: 'Thanos Store Discovery',
    icon_url: 'https://thanos.io/icon-dark.png',
    attachments: [
      {
        color: '#FF0000',
        fields: [
          { title, short: false },
          { title: 'Error Message', value: errorText, short: false },
        ],
      },
    ],
  };
}

/** A hosted zone id moto has never handed out (its own ids are `Z` and 26 more characters). */
function missingZoneId(): string {
  return `ZMISSING${randomBytes(6).toString('hex').toUpperCase()}`;
}

describe('Route53 failing', () => {
  const suite = scenarioSuite('r53-failures', { webhookReceiver: true });

  /** A controller reading Route53 through the fault proxy and alerting to this test's receiver. */
  async function startThroughProxy(namespace: string, zones: readonly string[], hook: WebhookReceiver) {
    const running = await suite.startController(namespace, zones, {}, { route53: 'proxy', hookUrl: hook.url });
    // Metrics are scraped from here on, and readiness may never come while Route53 fails.
    await running.waitForLog((line) => line.message === 'serving /metrics, /healthz and /readyz', 'the HTTP server');
    return running;
  }

  /** A namespace with the Deployment and a zone with `hosts`, published and rolled once by a fresh controller. */
  async function converged(prefix: string, hosts: readonly string[], hook: WebhookReceiver, extraRecords: readonly FixtureRecord[] = []) {
    const kubeConfig = suite.peers.controlPlane.kubeConfig();
    const namespace = await suite.peers.controlPlane.createNamespace(prefix);
    await createThanosDeployment(kubeConfig, namespace);
    const zone = await suite.peers.route53.createPrivateZone(`${prefix}.internal.example.com`);
    await suite.peers.route53.upsertRecords(zone, [...aRecords(hosts), ...extraRecords]);
    const running = await startThroughProxy(namespace, [zone], hook);
    await waitFor(
      async () =>
        (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts) &&
        templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(hosts),
      'the first convergence',
      30_000,
      logTail(running),
    );
    // One more poll, so the pass that converged has finished before the test changes anything.
    await waitForPolls(running, 1);
    const configMap = await readConfigMap(kubeConfig, namespace);
    const deployment = await readDeployment(kubeConfig, namespace);
    return { kubeConfig, namespace, zone, running, configMap, deployment };
  }

  const failedPolls = (running: ControllerProcess) => running.metric(METRICS.polls, { outcome: 'error' });

  /** The webhook URL is a credential: neither it nor its secret path may reach the log. */
  function expectNoHookUrlIn(running: ControllerProcess, hook: WebhookReceiver): void {
    const output = running.output();
    expect(output).not.toContain(hook.url);
    expect(output).not.toContain(new URL(hook.url).pathname);
  }

  it(
    'keeps the ConfigMap through an unreachable Route53, alerts once, and catches up when it is back',
    suite.logged(async () => {
      const hook = suite.receiver;
      const hosts = ['cluster-a-grpc.unreachable.internal.example.com', 'cluster-b-grpc.unreachable.internal.example.com'];
      const { kubeConfig, namespace, zone, running, configMap, deployment } = await converged('unreachable', hosts, hook);
      expect(hook.posts).toHaveLength(0);

      suite.peers.proxy.inject('reset');
      const added = 'cluster-c-grpc.unreachable.internal.example.com';
      await suite.peers.route53.upsertRecords(zone, aRecords([...hosts, added]));
      // Two failed polls with the same error: the second alert is the repeat that must be suppressed.
      await waitFor(
        async () => (await failedPolls(running)) >= 2 && (await running.metric(ALERTS, { outcome: 'suppressed' })) >= 1,
        'two failed polls and a suppressed repeat alert',
        FAILING_POLLS_TIMEOUT_MS,
        logTail(running),
      );

      const failed = await failedPolls(running);
      expect(await running.metric(METRICS.route53Requests, { zone, outcome: 'network_error' })).toBeGreaterThanOrEqual(
        failed * ATTEMPTS_PER_PAGE,
      );
      const retries = running.logs().filter((line) => line.message === 'Route53 request failed, retrying');
      expect(retries.length).toBeGreaterThanOrEqual(failed * (ATTEMPTS_PER_PAGE - 1));
      expect(retries.every((line) => line['outcome'] === 'network_error' && line['zone'] === zone)).toBe(true);

      const during = await readConfigMap(kubeConfig, namespace);
      expect(during?.metadata?.resourceVersion).toBe(configMap?.metadata?.resourceVersion);
      expect(during?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
      expect((await readDeployment(kubeConfig, namespace))?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);

      expect(hook.posts).toHaveLength(1);
      expect(hook.posts[0]?.headers['content-type']).toMatch(/^application\/json/);
      expect(hook.bodies[0]).toStrictEqual(
        olderToolAlert(expect.stringMatching(/Route53/), expect.stringContaining(`Route53 zone ${zone}`)),
      );
      expect(await running.metric(ALERTS, { outcome: 'sent' })).toBe(1);

      suite.peers.proxy.clear();
      await waitFor(
        async () =>
          (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd([...hosts, added]) &&
          templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash([...hosts, added]),
        'the record added during the outage to be published',
        FAILING_POLLS_TIMEOUT_MS,
        logTail(running),
      );
      expect(await running.metric(METRICS.route53Requests, { zone, outcome: 'success' })).toBeGreaterThanOrEqual(2);
      expect(hook.posts).toHaveLength(1);
      expectNoHookUrlIn(running, hook);
    }),
    180_000,
  );

  it(
    'retries a throttled request and publishes from the poll that recovered, without an alert',
    suite.logged(async () => {
      const hook = suite.receiver;
      const kubeConfig = suite.peers.controlPlane.kubeConfig();
      const namespace = await suite.peers.controlPlane.createNamespace('throttled');
      await createThanosDeployment(kubeConfig, namespace);
      const zone = await suite.peers.route53.createPrivateZone('throttled.internal.example.com');
      const hosts = ['cluster-a-grpc.throttled.internal.example.com', 'cluster-b-grpc.throttled.internal.example.com'];
      await suite.peers.route53.upsertRecords(zone, aRecords(hosts));

      // The controller's very first requests are throttled, so its first successful poll is one that retried.
      suite.peers.proxy.inject('throttle', { times: 3 });
      const running = await startThroughProxy(namespace, [zone], hook);
      await waitFor(
        async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts),
        'the ConfigMap from the throttled poll',
        30_000,
        logTail(running),
      );

      expect(suite.peers.proxy.faultedBy('throttle')).toBe(3);
      expect(await running.metric(METRICS.route53Requests, { zone, outcome: 'throttled' })).toBe(3);
      expect(await failedPolls(running)).toBe(0);
      const retries = running.logs().filter((line) => line.message === 'Route53 request failed, retrying');
      expect(retries.map((line) => [line['outcome'], line['attempt']])).toEqual([
        ['throttled', 1],
        ['throttled', 2],
        ['throttled', 3],
      ]);
      expect(hook.posts).toHaveLength(0);
      expect(await running.metric(ALERTS, { outcome: 'sent' })).toBe(0);
    }),
  );

  it(
    'never publishes a partial set while one zone does not exist, and alerts once naming it',
    suite.logged(async () => {
      const hook = suite.receiver;
      const kubeConfig = suite.peers.controlPlane.kubeConfig();
      const namespace = await suite.peers.controlPlane.createNamespace('no-zone');
      await createThanosDeployment(kubeConfig, namespace);
      const zone = await suite.peers.route53.createPrivateZone('present.internal.example.com');
      await suite.peers.route53.upsertRecords(zone, aRecords(['cluster-a-grpc.present.internal.example.com']));
      const missing = missingZoneId();
      // The older tool's list, still naming a cluster the present zone no longer has.
      const published = expectedFileSd(['cluster-a-grpc.present.internal.example.com', 'cluster-old-grpc.gone.internal.example.com']);
      const created = await kubeConfig.makeApiClient(CoreV1Api).createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: THANOS_CONFIGMAP }, data: { [SD_KEY]: published } },
      });

      const running = await startThroughProxy(namespace, [zone, missing], hook);
      await waitFor(
        async () => (await failedPolls(running)) >= 3 && (await running.metric(ALERTS, { outcome: 'suppressed' })) >= 2,
        'three failed polls, two of them with a suppressed alert',
        30_000,
        logTail(running),
      );

      // NoSuchHostedZone is not worth a retry: one request per poll.
      const failed = await failedPolls(running);
      const rejected = await running.metric(METRICS.route53Requests, { zone: missing, outcome: 'client_error' });
      expect(rejected).toBeGreaterThanOrEqual(failed);
      expect(rejected).toBeLessThanOrEqual(failed + 1);
      expect(await running.metric(METRICS.route53Requests, { zone, outcome: 'success' })).toBeGreaterThanOrEqual(failed);
      expect(running.logs().filter((line) => line.message === 'Route53 request failed, retrying')).toHaveLength(0);

      const configMap = await readConfigMap(kubeConfig, namespace);
      expect(configMap?.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
      expect(configMap?.data?.[SD_KEY]).toBe(published);
      const deployment = await readDeployment(kubeConfig, namespace);
      expect(templateHash(deployment)).toBeUndefined();
      expect(deployment?.metadata?.generation).toBe(1);

      expect(hook.posts).toHaveLength(1);
      expect(hook.bodies[0]).toStrictEqual(
        olderToolAlert(expect.stringMatching(/Route53/), expect.stringMatching(new RegExp(`Route53 zone ${missing}: .*NoSuchHostedZone`))),
      );
      expectNoHookUrlIn(running, hook);
    }),
  );

  describe('zero matching records', () => {
    const unrelated = (domain: string) => [
      { name: `cluster-a-http.${domain}`, type: 'A' as const, value: '10.9.0.1' },
      { name: `grpc.${domain}`, type: 'A' as const, value: '10.9.0.2' },
      { name: `cluster-e-grpc.${domain}`, type: 'TXT' as const, value: '"not a store"' },
    ];

    async function expectEmptySkipped(running: ControllerProcess, hook: WebhookReceiver): Promise<void> {
      await waitFor(
        async () => (await running.metric(EMPTY_SKIPS)) >= 3 && hook.posts.length >= 1,
        'three skipped empty results and an alert',
        30_000,
        logTail(running),
      );
      const warning = running.logs().find((line) => line.level === 'warn' && /no matching record/.test(String(line.message)));
      expect(warning).toBeDefined();
      // The same finding every poll: one alert, the repeats suppressed.
      expect(hook.posts).toHaveLength(1);
      expect(hook.bodies[0]).toStrictEqual(
        olderToolAlert(expect.stringMatching(/no endpoints/), expect.stringMatching(/no matching record/)),
      );
      expect(await running.metric(ALERTS, { outcome: 'suppressed' })).toBeGreaterThanOrEqual(1);
      expectNoHookUrlIn(running, hook);
    }

    it(
      'keeps the list when every -grpc record is deleted after a first sync',
      suite.logged(async () => {
        const hook = suite.receiver;
        const domain = 'emptied.internal.example.com';
        const hosts = [`cluster-a-grpc.${domain}`, `cluster-b-grpc.${domain}`];
        const { kubeConfig, namespace, zone, running, configMap, deployment } = await converged('emptied', hosts, hook, unrelated(domain));
        expect(await running.metric(EMPTY_SKIPS)).toBe(0);

        await suite.peers.route53.deleteRecords(zone, aRecords(hosts));
        await expectEmptySkipped(running, hook);

        const after = await readConfigMap(kubeConfig, namespace);
        expect(after?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
        expect(after?.metadata?.resourceVersion).toBe(configMap?.metadata?.resourceVersion);
        expect((await readDeployment(kubeConfig, namespace))?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
        expect(await running.metric(METRICS.endpoints)).toBe(2);

        // Deleted while reads are empty: restored from the last non-empty set, and the pods are not rolled.
        await kubeConfig.makeApiClient(CoreV1Api).deleteNamespacedConfigMap({ namespace, name: THANOS_CONFIGMAP });
        await waitFor(
          async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts),
          'the ConfigMap restored from the last non-empty set',
          10_000,
          logTail(running),
        );
        expect((await readDeployment(kubeConfig, namespace))?.metadata?.generation).toBe(deployment?.metadata?.generation);
      }),
    );

    it(
      "keeps the older tool's list when the zone never had a matching record",
      suite.logged(async () => {
        const hook = suite.receiver;
        const kubeConfig = suite.peers.controlPlane.kubeConfig();
        const namespace = await suite.peers.controlPlane.createNamespace('unrelated');
        await createThanosDeployment(kubeConfig, namespace);
        const domain = 'unrelated.internal.example.com';
        const zone = await suite.peers.route53.createPrivateZone(domain);
        await suite.peers.route53.upsertRecords(zone, unrelated(domain));
        const published = '- targets:\n  - cluster-a-grpc.unrelated.internal.example.com.:10901\n';
        const created = await kubeConfig.makeApiClient(CoreV1Api).createNamespacedConfigMap({
          namespace,
          body: { metadata: { name: THANOS_CONFIGMAP }, data: { [SD_KEY]: published } },
        });

        const running = await startThroughProxy(namespace, [zone], hook);
        await expectEmptySkipped(running, hook);

        const after = await readConfigMap(kubeConfig, namespace);
        expect(after?.data?.[SD_KEY]).toBe(published);
        expect(after?.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
        expect(templateHash(await readDeployment(kubeConfig, namespace))).toBeUndefined();
        expect(await running.metric(METRICS.configMapWrites, { operation: 'update' })).toBe(0);
      }),
    );
  });
});
