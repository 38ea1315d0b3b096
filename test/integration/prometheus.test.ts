// A real Prometheus scrapes the running controller through the scrape config the chart's ServiceMonitor stands for,
// evaluates the chart's alert rules (with a shortened `for:`) and answers the chart's dashboard queries.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { V1ConfigMap, V1Service } from '@kubernetes/client-node';
import { startPrometheus, type Prometheus, type PrometheusAlert } from '../peers/prometheus.ts';
import { documentedMetrics, METRIC_PREFIX } from '../support/readme-metrics.ts';
import { aRecords, logTail, scenarioSuite, waitForPolls } from '../support/scenario.ts';
import { helmForTests, only, setValues, type Manifest } from '../support/tools.ts';
import { waitFor } from '../support/wait.ts';

const RELEASE = 'tsd';
const NAMESPACE = 'monitoring';
const STALE_ALERT = 'ThanosStoreDiscoverySyncStale';
// Labels the scrape adds to every series (the operator's for a ServiceMonitor target); the rest are the metric's own.
const TARGET_LABELS = new Set(['__name__', 'instance', 'job', 'namespace', 'service', 'endpoint']);
// A window the 1 s scrapes fill well; stands in for Grafana's $__rate_interval.
const RATE_INTERVAL = '15s';

interface ServiceMonitorSpec {
  endpoints: { port: string; path: string; interval: string; scrapeTimeout: string }[];
}

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

/**
 * The scrape config prometheus-operator generates for the chart's ServiceMonitor, with the Service's endpoint
 * replaced by the controller's loopback address (no kubelet runs pods here): same interval, timeout and path, and the
 * same namespace/service/endpoint/job target labels.
 */
function scrapeConfigFor(monitor: Manifest & { spec: ServiceMonitorSpec }, service: V1Service, target: URL): Record<string, unknown> {
  const endpoint = monitor.spec.endpoints[0]!;
  const label = (name: string, value: string) => ({ target_label: name, replacement: value });
  return {
    job_name: `serviceMonitor/${monitor.metadata.namespace}/${monitor.metadata.name}/0`,
    scrape_interval: endpoint.interval,
    scrape_timeout: endpoint.scrapeTimeout,
    metrics_path: endpoint.path,
    static_configs: [{ targets: [target.host] }],
    relabel_configs: [
      label('namespace', service.metadata!.namespace!),
      label('service', service.metadata!.name!),
      label('endpoint', endpoint.port),
      label('job', service.metadata!.name!),
    ],
  };
}

/** Grafana's variables, as a dashboard viewer with this release selected would have them. */
function substitute(expr: string, job: string): string {
  return expr.replaceAll('$__rate_interval', RATE_INTERVAL).replaceAll('$namespace', NAMESPACE).replaceAll('$job', job);
}

describe('a real Prometheus scraping the controller', () => {
  const suite = scenarioSuite('prometheus', { webhookReceiver: true });
  const helm = helmForTests();
  let prometheus: Prometheus | undefined;

  afterEach(async () => {
    await prometheus?.stop();
    prometheus = undefined;
  });

  async function staleAlert(): Promise<PrometheusAlert | undefined> {
    return (await prometheus!.alerts()).find((alert) => alert.labels['alertname'] === STALE_ALERT);
  }

  it(
    'gets every documented metric with its type and labels, fires the stale-sync alert while Route53 fails, and answers every dashboard query',
    suite.logged(async () => {
      const manifests = await helm.template(
        RELEASE,
        NAMESPACE,
        ...setValues({
          'serviceMonitor.enabled': true,
          'serviceMonitor.force': true,
          'serviceMonitor.interval': '1s',
          'serviceMonitor.scrapeTimeout': '1s',
          'prometheusRule.enabled': true,
          'prometheusRule.force': true,
          'prometheusRule.syncStale.maxAgeSeconds': 4,
          'prometheusRule.syncStale.for': '3s',
          'grafanaDashboard.enabled': true,
        }),
      );
      const service = only<V1Service>(manifests, 'Service');
      const job = service.metadata!.name!;

      const hosts = ['cluster-a-grpc.internal.example.com', 'cluster-b-grpc.internal.example.com'];
      // A wildcard that matches the suffix, so the labelled skip counter has a series too.
      const records = [...aRecords(hosts), { name: '\\052-grpc.internal.example.com', type: 'A' as const, value: '10.9.9.9' }];
      const { namespace, zone } = await suite.prepare({ prefix: 'prometheus', records });
      // The delivery check on, so its series exist: no Thanos answers there, each read counts as an error.
      const delivery = { THANOS_QUERY_URL: 'http://127.0.0.1:9/', DELIVERY_CHECK_INTERVAL_SECONDS: '1' };
      // A zone source beside the zone id (the same zone, read once), so the per-zone and per-source series exist.
      const sourcesFile = join(await mkdtemp(join(tmpdir(), 'tsd-prometheus-')), 'sources.yaml');
      await writeFile(sourcesFile, JSON.stringify([{ name: 'internal', domains: ['internal.example.com'] }]));
      const controller = await suite.startController(
        namespace,
        [zone],
        { ...delivery, ROUTE53_SOURCES_FILE: sourcesFile },
        { route53: 'proxy', hookUrl: suite.receiver.url },
      );
      await controller.waitUntilReady();

      prometheus = await startPrometheus({
        global: { evaluation_interval: '1s' },
        scrapeConfigs: [scrapeConfigFor(only(manifests, 'ServiceMonitor'), service, new URL(controller.metricsUrl))],
        rules: only<Manifest & { spec: unknown }>(manifests, 'PrometheusRule').spec,
      });
      const query = (expr: string) => prometheus!.query(expr);
      const scraped = async (expr: string) => (await query(expr)).length > 0;
      await waitFor(
        () => scraped(`up{namespace="${NAMESPACE}", job="${job}"} == 1`),
        'the controller scraped up',
        30_000,
        logTail(controller),
      );
      await waitFor(() => scraped(`${METRIC_PREFIX}endpoints{job="${job}"} == 2`), 'the endpoints scraped', 30_000, logTail(controller));
      expect(await staleAlert()).toBeUndefined();

      // Route53 unreachable: the sync timestamp stops, the alert goes pending, then firing once `for:` has passed.
      suite.peers.proxy.inject('reset');
      const states: string[] = [];
      await waitFor(
        async () => {
          const state = (await staleAlert())?.state;
          if (state !== undefined && states.at(-1) !== state) states.push(state);
          return state === 'firing';
        },
        `${STALE_ALERT} firing`,
        60_000,
        logTail(controller),
      );
      expect(states).toEqual(['pending', 'firing']);
      const firing = (await staleAlert())!;
      expect(firing.labels).toEqual({ alertname: STALE_ALERT, namespace: NAMESPACE, job, severity: 'critical' });
      expect(firing.annotations['description']).toMatch(
        new RegExp(`^The controller ${NAMESPACE}/${job} has not left the ConfigMap equal to Route53 for [\\d.]+s\\.$`),
      );

      // The failed poll's Mattermost alert shows up as alerts_total{outcome="sent"}; then Route53 comes back.
      await waitFor(
        () => scraped(`${METRIC_PREFIX}alerts_total{job="${job}", outcome="sent"} >= 1`),
        'an alert sent',
        90_000,
        logTail(controller),
      );
      suite.peers.proxy.clear();
      await waitForPolls(controller, 2, 90_000);
      await waitFor(async () => (await staleAlert()) === undefined, `${STALE_ALERT} resolved`, 30_000, logTail(controller));

      // Every metric of the README's table arrives with the documented type and exactly the documented labels.
      const metadata = await prometheus.metadata();
      const documented = await documentedMetrics();
      const arrived = await Promise.all(
        documented.map(async ({ name }) => {
          const series = await prometheus!.series(`{__name__=~"${name}(_bucket|_sum|_count)?", job="${job}"}`);
          const labels = [
            ...new Set(series.flatMap((s) => Object.keys(s).filter((label) => !TARGET_LABELS.has(label) && label !== 'le'))),
          ].sort();
          return { name, type: metadata[name]?.[0]?.type, labels, series: series.length > 0 };
        }),
      );
      expect(arrived).toEqual(documented.map(({ name, type, labels }) => ({ name, type, labels, series: true })));
      // The default process metrics keep their standard names.
      expect(metadata['process_cpu_seconds_total']?.[0]?.type).toBe('counter');
      expect(metadata['nodejs_heap_size_used_bytes']?.[0]?.type).toBe('gauge');

      // Every dashboard query parses and returns data; every variable finds this release.
      const dashboardMap = only<V1ConfigMap>(manifests, 'ConfigMap');
      const dashboard = JSON.parse(dashboardMap.data!['thanos-store-discovery.json']!) as Dashboard;
      const queries = dashboard.panels.flatMap((panel) =>
        panel.targets.map((target) => ({ panel: panel.title, expr: substitute(target.expr, job) })),
      );
      expect(queries.length).toBeGreaterThanOrEqual(20);
      const answered = await Promise.all(queries.map(async ({ panel, expr }) => ({ panel, expr, series: (await query(expr)).length })));
      expect(answered.filter((answer) => answer.series === 0)).toEqual([]);
      const variables = dashboard.templating.list.filter((variable) => variable.type === 'query');
      const values = await Promise.all(
        variables.map(async ({ name, definition = '' }) => {
          const [, selector = '', label = ''] = /^label_values\((.+), (\w+)\)$/.exec(substitute(definition, job)) ?? [];
          return [name, [...new Set((await prometheus!.series(selector)).map((s) => s[label]))]] as const;
        }),
      );
      expect(Object.fromEntries(values)).toEqual({ namespace: [NAMESPACE], job: [job] });
      await rm(dirname(sourcesFile), { recursive: true, force: true });
    }),
    300_000,
  );
});
