// The Helm chart, rendered and linted by a real helm binary, then installed into a real kube-apiserver where
// SubjectAccessReviews check what its ServiceAccount may do.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  loadYaml,
  PolicyV1Api,
  type V1CustomResourceDefinition,
  type V1ConfigMap,
  type V1Deployment,
  type V1EnvVar,
  type V1PodDisruptionBudget,
  type V1PolicyRule,
  type V1ResourceAttributes,
  type V1Role,
  type V1RoleBinding,
  type V1Secret,
  type V1Service,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { resolvePeerBinaries } from '../peers/binaries.ts';
import { startControlPlane, type ControlPlane } from '../peers/control-plane.ts';
import {
  CHART,
  chartInstallArgs,
  only,
  helmForTests,
  PEER_BUILD_TIMEOUT_MS,
  runTool,
  VALID_VALUES,
  type Manifest,
  type ToolResult,
} from '../support/tools.ts';
import { waitFor } from '../support/wait.ts';
import { accessDecisions, type ServiceAccountRef } from '../support/service-account.ts';

const RELEASE = 'tsd';

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
}
const NAMESPACE = 'monitoring';
const helmTool = helmForTests();

function helm(args: readonly string[]): Promise<ToolResult> {
  return helmTool.run(args);
}

/** `helm template` with the valid values plus `args`; fails the test with helm's stderr when helm fails. */
function render(...args: string[]): Promise<Manifest[]> {
  return helmTool.template(RELEASE, NAMESPACE, ...args);
}

function containerOf(deployment: V1Deployment) {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  expect(containers).toHaveLength(1);
  return containers[0]!;
}

function plainEnv(env: readonly V1EnvVar[] | undefined): Record<string, string | undefined> {
  return Object.fromEntries((env ?? []).filter((e) => e.valueFrom === undefined).map((e) => [e.name, e.value]));
}

/** Rules in a canonical order, so the comparison ignores how the template happens to order them. */
function canonicalRules(rules: readonly V1PolicyRule[] | undefined) {
  return (rules ?? [])
    .map((rule) => ({
      apiGroups: [...(rule.apiGroups ?? [])].sort(),
      resources: [...(rule.resources ?? [])].sort(),
      resourceNames: rule.resourceNames === undefined ? undefined : [...rule.resourceNames].sort(),
      verbs: [...rule.verbs].sort(),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

const LEAST_PRIVILEGE_RULES = canonicalRules([
  { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
  { apiGroups: [''], resources: ['configmaps'], resourceNames: ['thanos-store-discovery'], verbs: ['list', 'watch', 'patch'] },
  { apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['thanos-query'], verbs: ['list', 'watch', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
]);

describe('helm lint', () => {
  it('passes --strict with the valid CI values', async () => {
    const result = await helm(['lint', '--strict', CHART, '-f', VALID_VALUES]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('0 chart(s) failed');
  });

  it('passes --strict with every optional object enabled', async () => {
    const result = await helm([
      'lint',
      '--strict',
      CHART,
      '-f',
      VALID_VALUES,
      '--set',
      'serviceMonitor.enabled=true',
      '--set',
      'serviceMonitor.force=true',
      '--set',
      'prometheusRule.enabled=true',
      '--set',
      'prometheusRule.force=true',
      '--set',
      'grafanaDashboard.enabled=true',
      '--set',
      'leaderElection.enabled=true',
      '--set',
      'alerts.mattermostHook.url=https://mattermost.example.com/hooks/x',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('0 chart(s) failed');
  });
});

describe('helm template with valid values', () => {
  it('renders exactly the controller objects, without the optional Secret and ServiceMonitor', async () => {
    const kinds = (await render()).map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(kinds).toEqual([
      'Deployment/tsd-thanos-store-discovery',
      'Role/tsd-thanos-store-discovery',
      'RoleBinding/tsd-thanos-store-discovery',
      'Service/tsd-thanos-store-discovery',
      'ServiceAccount/tsd-thanos-store-discovery',
    ]);
  });

  it('maps every value to its environment variable', async () => {
    const deployment = only<V1Deployment>(
      await render(
        '--set-json',
        'route53.privateHostedZoneIds=["Z111AAA","/hostedzone/Z222BBB"]',
        '--set',
        'route53.recordSuffix=-store',
        '--set',
        'route53.storePort=10905',
        '--set',
        'route53.maxRequestsPerSecond=3',
        '--set',
        'thanos.namespace=thanos',
        '--set',
        'thanos.deploymentName=query',
        '--set',
        'thanos.configMapName=stores',
        '--set',
        'thanos.configMapKey=endpoints.yaml',
        '--set',
        'thanos.outputFormat=file_sd',
        '--set',
        'thanos.restartMode=none',
        '--set',
        'controller.pollIntervalSeconds=86400',
        '--set',
        'controller.logLevel=debug',
        '--set',
        'controller.dryRun=true',
        '--set',
        'aws.region=eu-west-1',
        '--set',
        'aws.route53EndpointUrl=http://127.0.0.1:5000',
        '--set',
        'alerts.repeatSeconds=0',
        '--set',
        'metrics.port=9090',
        '--set',
        'safety.removalConfirmPolls=3',
        '--set',
        'safety.maxRemovalPercent=25',
        '--set',
        'safety.massRemovalConfirmPolls=20',
        '--set',
        'safety.restartMinIntervalSeconds=0',
        '--set',
        'safety.restartRevertLimit=5',
        '--set-json',
        'extraEnv=[{"name":"NODE_OPTIONS","value":"--max-old-space-size=128"}]',
      ),
      'Deployment',
    );
    expect(plainEnv(containerOf(deployment).env)).toEqual({
      PRIVATE_HOSTED_ZONE_ID: 'Z111AAA,/hostedzone/Z222BBB',
      THANOS_NAMESPACE: 'thanos',
      THANOS_DEPLOYMENT_NAME: 'query',
      THANOS_CONFIGMAP_NAME: 'stores',
      CONFIGMAP_KEY: 'endpoints.yaml',
      OUTPUT_FORMAT: 'file_sd',
      RESTART_MODE: 'none',
      RECORD_SUFFIX: '-store',
      STORE_PORT: '10905',
      ROUTE53_MAX_RPS: '3',
      POLL_INTERVAL_SECONDS: '86400',
      LOG_LEVEL: 'debug',
      DRY_RUN: 'true',
      LISTEN_ADDRESS: ':9090',
      ALERT_REPEAT_SECONDS: '0',
      REMOVAL_CONFIRM_POLLS: '3',
      MAX_REMOVAL_PERCENT: '25',
      MASS_REMOVAL_CONFIRM_POLLS: '20',
      RESTART_MIN_INTERVAL_SECONDS: '0',
      RESTART_REVERT_LIMIT: '5',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_ROUTE_53: 'http://127.0.0.1:5000',
      NODE_OPTIONS: '--max-old-space-size=128',
    });
  });

  it.each([
    ['192Mi (the default)', [], ['--max-old-space-size=96']],
    ['1Gi', ['--set', 'resources.limits.memory=1Gi'], ['--max-old-space-size=512']],
    ['300M', ['--set', 'resources.limits.memory=300M'], ['--max-old-space-size=143']],
    ['no limit', ['--set', 'resources.limits=null'], []],
  ])('runs the bundle with a V8 heap cap of half the memory limit: %s', async (_case, args, heap) => {
    const container = containerOf(only<V1Deployment>(await render(...args), 'Deployment'));
    expect(container.args).toEqual([...heap, '--max-semi-space-size=1', '--single-threaded', 'main.mjs']);
  });

  it('refuses a memory limit it cannot turn into a heap cap', async () => {
    const result = await helm([
      'template',
      RELEASE,
      CHART,
      '--namespace',
      NAMESPACE,
      '-f',
      VALID_VALUES,
      '--set',
      'resources.limits.memory=1Ti',
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('resources.limits.memory "1Ti"');
  });

  it('defaults THANOS_NAMESPACE to the release namespace, never sets DEVELOPER_MODE, and its env satisfies loadConfig', async () => {
    const env = plainEnv(containerOf(only<V1Deployment>(await render(), 'Deployment')).env);
    expect(env.THANOS_NAMESPACE).toBe(NAMESPACE);
    expect(env).not.toHaveProperty('DEVELOPER_MODE');
    expect(env).not.toHaveProperty('MATTERMOST_ALERTS_HOOK');
    expect(loadConfig(env)).toMatchObject({
      zones: ['Z0123456789ABCDEFGHIJ'],
      namespace: NAMESPACE,
      deploymentName: 'thanos-query',
      configMapName: 'thanos-store-discovery',
      configMapKey: 'servicediscovery.yml',
      developerMode: false,
      pollIntervalMs: 60_000,
      recordSuffix: '-grpc',
      storePort: 10901,
      listen: { host: undefined, port: 8080 },
      restartMode: 'annotation',
      outputFormat: 'endpoint-config',
      alertRepeatMs: 900_000,
      removal: { confirmPolls: 2, maxShare: 0.5, massConfirmPolls: 10 },
      restartMinIntervalMs: 300_000,
      restartRevertLimit: 3,
    });
  });

  it('creates a Secret for an inline hook URL and reads it through a secretKeyRef only', async () => {
    const url = 'https://mattermost.example.com/hooks/s3cr3t-token';
    const manifests = await render('--set', `alerts.mattermostHook.url=${url}`);
    const secret = only<V1Secret>(manifests, 'Secret');
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const hook = containerOf(deployment).env?.find((e) => e.name === 'MATTERMOST_ALERTS_HOOK');
    expect(hook).toEqual({
      name: 'MATTERMOST_ALERTS_HOOK',
      valueFrom: { secretKeyRef: { name: secret.metadata?.name, key: 'url' } },
    });
    expect(Buffer.from(secret.data?.url ?? '', 'base64').toString()).toBe(url);
    expect(JSON.stringify(deployment)).not.toContain('s3cr3t-token');
  });

  it('reads the hook from an existing Secret without creating one', async () => {
    const manifests = await render(
      '--set',
      'alerts.mattermostHook.existingSecret=mattermost-hook',
      '--set',
      'alerts.mattermostHook.existingSecretKey=webhook',
    );
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
    const hook = containerOf(only<V1Deployment>(manifests, 'Deployment')).env?.find((e) => e.name === 'MATTERMOST_ALERTS_HOOK');
    expect(hook?.valueFrom).toEqual({ secretKeyRef: { name: 'mattermost-hook', key: 'webhook' } });
  });

  it('grants the ServiceAccount exactly the least-privilege rules, in the Thanos namespace', async () => {
    const manifests = await render('--set', 'thanos.namespace=thanos');
    const role = only<V1Role>(manifests, 'Role');
    const binding = only<V1RoleBinding>(manifests, 'RoleBinding');
    const account = only<V1ServiceAccount>(manifests, 'ServiceAccount');
    expect(canonicalRules(role.rules)).toEqual(LEAST_PRIVILEGE_RULES);
    expect(role.metadata?.namespace).toBe('thanos');
    expect(binding.metadata?.namespace).toBe('thanos');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata?.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata?.name, namespace: NAMESPACE }]);
    expect(only<V1Deployment>(manifests, 'Deployment').spec?.template.spec?.serviceAccountName).toBe(account.metadata?.name);
  });

  it('with leader election: several replicas, the pod name as identity, and only the named Lease besides', async () => {
    const manifests = await render('--set', 'leaderElection.enabled=true', '--set', 'leaderElection.replicas=3');
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    expect(deployment.spec?.replicas).toBe(3);
    expect(deployment.spec?.strategy).toBeUndefined();
    const env = containerOf(deployment).env ?? [];
    expect(env.find((e) => e.name === 'LEADER_ELECTION')?.value).toBe('true');
    expect(env.find((e) => e.name === 'LEADER_ELECTION_LEASE_NAME')?.value).toBe('thanos-store-discovery');
    expect(env.find((e) => e.name === 'POD_NAME')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(canonicalRules(only<V1Role>(manifests, 'Role').rules)).toEqual(
      canonicalRules([
        ...LEAST_PRIVILEGE_RULES,
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['thanos-store-discovery'], verbs: ['get', 'update'] },
      ]),
    );
  });

  it('with the delivery check: its variables, and pods/list besides (nothing else)', async () => {
    const manifests = await render('--set', 'delivery.queryUrl=http://thanos-query:9090', '--set', 'delivery.alertAfterSeconds=120');
    const env = plainEnv(containerOf(only<V1Deployment>(manifests, 'Deployment')).env);
    expect(env['THANOS_QUERY_URL']).toBe('http://thanos-query:9090');
    expect(env['DELIVERY_CHECK_INTERVAL_SECONDS']).toBe('30');
    expect(env['DELIVERY_ALERT_AFTER_SECONDS']).toBe('120');
    expect(canonicalRules(only<V1Role>(manifests, 'Role').rules)).toEqual(
      canonicalRules([...LEAST_PRIVILEGE_RULES, { apiGroups: [''], resources: ['pods'], verbs: ['list'] }]),
    );
    const off = plainEnv(containerOf(only<V1Deployment>(await render(), 'Deployment')).env);
    expect(off['THANOS_QUERY_URL']).toBeUndefined();
  });

  it('with route53.sources: the file from its own ConfigMap, mounted, its variables, a pod rolled on change, and loadConfig reads it', async () => {
    const sources = [
      { name: 'prod', roleArn: 'arn:aws:iam::111111111111:role/reader', externalId: 'tsd-prod', domains: ['prod.example.com'] },
      { name: 'shared', tags: { 'thanos-store-discovery': 'enabled' } },
    ];
    // Without the CI values file: sources alone, no zone ids.
    const withSources = (list: unknown[]): Promise<Manifest[]> =>
      helmTool.templateAlone(
        RELEASE,
        NAMESPACE,
        '--set',
        'thanos.deploymentName=thanos-query',
        '--set',
        'thanos.configMapName=thanos-store-discovery',
        '--set-json',
        `route53.sources=${JSON.stringify(list)}`,
        '--set',
        'route53.discoveryEveryPolls=3',
        '--set',
        'aws.stsEndpointUrl=https://sts.eu-west-1.amazonaws.com',
      );
    const manifests = await withSources(sources);
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const map = only<V1ConfigMap>(manifests, 'ConfigMap');
    expect(map.metadata?.name).toBe('tsd-thanos-store-discovery-sources');
    const container = containerOf(deployment);
    const env = plainEnv(container.env);
    expect(env).toMatchObject({
      PRIVATE_HOSTED_ZONE_ID: '',
      ROUTE53_SOURCES_FILE: '/etc/thanos-store-discovery/sources/sources.yaml',
      ROUTE53_DISCOVERY_EVERY_POLLS: '3',
      AWS_ENDPOINT_URL_STS: 'https://sts.eu-west-1.amazonaws.com',
    });
    expect(container.env?.find((entry) => entry.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(container.volumeMounts).toContainEqual({ name: 'sources', mountPath: '/etc/thanos-store-discovery/sources', readOnly: true });
    expect(deployment.spec?.template.spec?.volumes).toContainEqual({ name: 'sources', configMap: { name: map.metadata?.name } });

    const file = map.data?.['sources.yaml'] ?? '';
    const config = loadConfig({ ...env, POD_NAME: 'tsd-abc' }, (path) => {
      if (path !== env['ROUTE53_SOURCES_FILE']) throw new Error(`unexpected path ${path}`);
      return file;
    });
    expect(config.zones).toEqual([]);
    expect(config.sources?.list.map((source) => [source.name, source.role?.account, source.domains, source.tags])).toEqual([
      ['prod', '111111111111', ['prod.example.com'], {}],
      ['shared', undefined, [], { 'thanos-store-discovery': 'enabled' }],
    ]);

    // The file is read at start: another list rolls the pod; the same list does not.
    const checksum = async (list: unknown[]) =>
      only<V1Deployment>(await withSources(list), 'Deployment').spec?.template.metadata?.annotations?.['checksum/sources'];
    expect(await checksum(sources)).toBe(deployment.spec?.template.metadata?.annotations?.['checksum/sources']);
    expect(await checksum(sources.slice(1))).not.toBe(await checksum(sources));
    expect(await checksum(sources)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a zone source the schema does not know', async () => {
    await expect(render('--set-json', 'route53.sources=[{"name":"prod","domain":["x.com"]}]')).rejects.toThrow('/route53/sources/0');
  });

  it('puts the IRSA role annotation on the ServiceAccount', async () => {
    const roleArn = 'arn:aws:iam::123456789012:role/thanos-store-discovery';
    const account = only<V1ServiceAccount>(
      await render('--set', `serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=${roleArn}`),
      'ServiceAccount',
    );
    expect(account.metadata?.annotations).toEqual({ 'eks.amazonaws.com/role-arn': roleArn });
  });

  it('runs one replica replaced with Recreate, probed on /healthz and /readyz, from the appVersion image', async () => {
    const chart = parse(await readFile(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const manifests = await render('--set', 'metrics.port=9090', '--set', 'image.repository=registry.example.com/tsd');
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    const container = containerOf(deployment);
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.strategy).toEqual({ type: 'Recreate' });
    expect(container.image).toBe(`registry.example.com/tsd:${chart.appVersion}`);
    expect(container.ports).toEqual([{ name: 'http-metrics', containerPort: 9090, protocol: 'TCP' }]);
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    expect(deployment.spec?.template.metadata?.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9090',
      'prometheus.io/path': '/metrics',
    });
    const service = only<V1Service>(manifests, 'Service');
    expect(service.spec?.ports).toEqual([{ name: 'http-metrics', port: 8080, targetPort: 'http-metrics', protocol: 'TCP' }]);
    expect(service.spec?.selector).toEqual(deployment.spec?.selector.matchLabels);
  });

  it('uses image.tag over the appVersion when set', async () => {
    const deployment = only<V1Deployment>(await render('--set', 'image.tag=1.2.3-rc.1'), 'Deployment');
    expect(containerOf(deployment).image).toBe('thanos-store-discovery:1.2.3-rc.1');
  });

  it('runs as non-root with a read-only root filesystem, no capabilities and the runtime seccomp profile', async () => {
    const deployment = only<V1Deployment>(await render(), 'Deployment');
    const pod = deployment.spec?.template.spec;
    const container = containerOf(deployment);
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod?.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('renders a ServiceMonitor selecting the Service when serviceMonitor.enabled=true and the cluster serves its API', async () => {
    const manifests = await render(
      '--set',
      'serviceMonitor.enabled=true',
      '--set',
      'serviceMonitor.labels.release=prom',
      '--api-versions',
      'monitoring.coreos.com/v1/ServiceMonitor',
    );
    const monitor = only<Manifest>(manifests, 'ServiceMonitor');
    const service = only<V1Service>(manifests, 'Service');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.labels).toMatchObject({ release: 'prom' });
    expect(monitor.spec).toMatchObject({
      namespaceSelector: { matchNames: [NAMESPACE] },
      selector: { matchLabels: service.spec?.selector },
      endpoints: [{ port: 'http-metrics', path: '/metrics' }],
    });
  });
  it('renders the ServiceMonitor and PrometheusRule only where monitoring.coreos.com/v1 is served, or when forced', async () => {
    const kinds = async (...args: string[]) =>
      (await render('--set', 'serviceMonitor.enabled=true', '--set', 'prometheusRule.enabled=true', ...args))
        .map((m) => m.kind)
        .filter((kind) => kind === 'ServiceMonitor' || kind === 'PrometheusRule')
        .sort();
    expect(await kinds()).toEqual([]);
    expect(await kinds('--api-versions', 'monitoring.coreos.com/v1/PrometheusRule')).toEqual(['PrometheusRule']);
    expect(await kinds('--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor')).toEqual(['ServiceMonitor']);
    expect(await kinds('--set', 'serviceMonitor.force=true', '--set', 'prometheusRule.force=true')).toEqual([
      'PrometheusRule',
      'ServiceMonitor',
    ]);
  });

  it('labels the PrometheusRule for the Prometheus that selects it and puts it in prometheusRule.namespace', async () => {
    const rule = only<Manifest>(
      await render(
        '--set',
        'prometheusRule.enabled=true',
        '--set',
        'prometheusRule.force=true',
        '--set',
        'prometheusRule.labels.release=prom',
        '--set',
        'prometheusRule.namespace=observability',
      ),
      'PrometheusRule',
    );
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.metadata.namespace).toBe('observability');
    expect(rule.metadata.labels).toMatchObject({ release: 'prom', 'app.kubernetes.io/instance': RELEASE });
  });

  it('builds the image reference from registry, repository and tag, or pins it by digest', async () => {
    const imageOf = async (...args: string[]) => containerOf(only<V1Deployment>(await render(...args), 'Deployment')).image;
    const digest = `sha256:${'ab'.repeat(32)}`;
    expect(await imageOf('--set', 'image.registry=registry.example.com:5000', '--set', 'image.tag=1.2.3')).toBe(
      'registry.example.com:5000/thanos-store-discovery:1.2.3',
    );
    expect(await imageOf('--set', 'image.registry=ghcr.io', '--set', 'image.repository=org/tsd', '--set', `image.digest=${digest}`)).toBe(
      `ghcr.io/org/tsd@${digest}`,
    );
    expect(await imageOf('--set', `image.digest=${digest}`, '--set', 'image.tag=ignored')).toBe(`thanos-store-discovery@${digest}`);
  });

  it('adds a PodDisruptionBudget only when more than one replica runs', async () => {
    const budgets = async (...args: string[]) => (await render(...args)).filter((m) => m.kind === 'PodDisruptionBudget');
    expect(await budgets()).toEqual([]);
    expect(await budgets('--set', 'leaderElection.enabled=true', '--set', 'leaderElection.replicas=1')).toEqual([]);
    expect(await budgets('--set', 'leaderElection.enabled=true', '--set', 'podDisruptionBudget.enabled=false')).toEqual([]);
    const manifests = await render('--set', 'leaderElection.enabled=true', '--set', 'leaderElection.replicas=3');
    const budget = only<V1PodDisruptionBudget>(manifests, 'PodDisruptionBudget');
    // AlwaysAllow: an unready replica (a standby with a cold cache) never blocks a node drain.
    expect(budget.spec).toEqual({
      maxUnavailable: 1,
      selector: only<V1Deployment>(manifests, 'Deployment').spec?.selector,
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
  });

  it('puts the scrape annotations on the pod only when no ServiceMonitor scrapes it, so it is scraped once', async () => {
    const podAnnotations = async (...args: string[]) =>
      only<V1Deployment>(await render(...args), 'Deployment').spec?.template.metadata?.annotations ?? {};
    expect(await podAnnotations()).toMatchObject({ 'prometheus.io/scrape': 'true' });
    expect(Object.keys(await podAnnotations('--set', 'serviceMonitor.enabled=true', '--set', 'serviceMonitor.force=true'))).not.toContain(
      'prometheus.io/scrape',
    );
    // Asked for but not rendered (the cluster serves no ServiceMonitor API): the annotations stay.
    expect(await podAnnotations('--set', 'serviceMonitor.enabled=true')).toMatchObject({ 'prometheus.io/scrape': 'true' });
  });

  it('with leader election, prefers to put the replicas on different nodes unless affinity or spread is given', async () => {
    const podSpec = async (...args: string[]) => only<V1Deployment>(await render(...args), 'Deployment').spec?.template.spec;
    expect((await podSpec())?.affinity).toBeUndefined();
    const spread = await podSpec('--set', 'leaderElection.enabled=true');
    const selector = only<V1Deployment>(await render(), 'Deployment').spec?.selector;
    expect(spread?.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: selector } },
        ],
      },
    });
    const own = await podSpec(
      '--set',
      'leaderElection.enabled=true',
      '--set-json',
      'topologySpreadConstraints=[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"ScheduleAnyway"}]',
    );
    expect(own?.affinity).toBeUndefined();
    expect(own?.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: selector },
    ]);
  });

  it('takes the conventional values: grace period, revision history, common labels, ServiceMonitor relabelings', async () => {
    const manifests = await render(
      '--set',
      'terminationGracePeriodSeconds=20',
      '--set',
      'revisionHistoryLimit=5',
      '--set',
      'commonLabels.team=observability',
      '--set',
      'serviceMonitor.enabled=true',
      '--set',
      'serviceMonitor.force=true',
      '--set-json',
      'serviceMonitor.relabelings=[{"targetLabel":"cluster","replacement":"eu-1"}]',
      '--set-json',
      'serviceMonitor.metricRelabelings=[{"sourceLabels":["__name__"],"regex":"go_.*","action":"drop"}]',
    );
    const deployment = only<V1Deployment>(manifests, 'Deployment');
    expect(deployment.spec?.template.spec?.terminationGracePeriodSeconds).toBe(20);
    expect(deployment.spec?.revisionHistoryLimit).toBe(5);
    for (const manifest of manifests) expect([manifest.kind, manifest.metadata.labels?.['team']]).toEqual([manifest.kind, 'observability']);
    const endpoint = (only<Manifest>(manifests, 'ServiceMonitor')['spec'] as { endpoints: Record<string, unknown>[] }).endpoints[0];
    expect(endpoint).toMatchObject({
      relabelings: [{ targetLabel: 'cluster', replacement: 'eu-1' }],
      metricRelabelings: [{ sourceLabels: ['__name__'], regex: 'go_.*', action: 'drop' }],
    });
  });

  it('names the Kubernetes versions it supports in Chart.yaml, and refuses an older cluster', async () => {
    const chart = parse((await helm(['show', 'chart', CHART])).stdout) as Record<string, unknown>;
    expect(chart).toMatchObject({ kubeVersion: '>=1.27.0-0' });
    expect((await helm(['template', RELEASE, CHART, '-f', VALID_VALUES, '--kube-version', 'v1.22.0'])).stderr).toContain('kubeVersion');
  });

  it('ships the Grafana dashboard as a ConfigMap with the sidecar label, only when enabled', async () => {
    expect((await render()).filter((m) => m.kind === 'ConfigMap')).toEqual([]);
    const map = only<V1ConfigMap>(
      await render('--set', 'grafanaDashboard.enabled=true', '--set', 'grafanaDashboard.annotations.grafana_folder=Thanos'),
      'ConfigMap',
    );
    expect(map.metadata?.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(map.metadata?.annotations).toEqual({ grafana_folder: 'Thanos' });
    const dashboard = JSON.parse(map.data?.['thanos-store-discovery.json'] ?? '') as { uid: string; panels: unknown[] };
    expect(dashboard.uid).toBe('thanos-store-discovery');
    expect(dashboard.panels.length).toBeGreaterThan(10);
  });
});

describe('the chart README', () => {
  function inSchema(schema: JsonSchema, path: readonly string[]): boolean {
    if (path.length === 0) return true;
    const next = schema.properties?.[path[0]!];
    return next !== undefined && inSchema(next, path.slice(1));
  }

  it(
    'holds the values table helm-docs generates from values.yaml now (scripts/chart-readme.sh --check)',
    async () => {
      const check = await runTool('bash', [fileURLToPath(new URL('../../scripts/chart-readme.sh', import.meta.url)), '--check']);
      expect({ code: check.code, stderr: check.stderr }).toEqual({ code: 0, stderr: '' });
    },
    PEER_BUILD_TIMEOUT_MS,
  );

  it('documents only values the schema knows, and names the required ones', async () => {
    const readme = await readFile(join(CHART, 'README.md'), 'utf8');
    const table = [...readme.matchAll(/^\| ([A-Za-z0-9_.]+) \| [a-z]+ \|/gm)].map((match) => match[1]!);
    const schema = JSON.parse(await readFile(join(CHART, 'values.schema.json'), 'utf8')) as JsonSchema;
    expect(table.length).toBeGreaterThan(50);
    expect(table.filter((path) => !inSchema(schema, path.split('.')))).toEqual([]);
    for (const required of ['route53.privateHostedZoneIds', 'thanos.deploymentName', 'thanos.configMapName']) {
      expect(readme).toContain(`\`${required}\``);
    }
  });
});

describe('helm template with missing or invalid values', () => {
  const complete = {
    zones: ['--set', 'route53.privateHostedZoneIds={Z0123456789ABCDEFGHIJ}'],
    deployment: ['--set', 'thanos.deploymentName=thanos-query'],
    configMap: ['--set', 'thanos.configMapName=thanos-store-discovery'],
  };

  it.each([
    ['no zone ids', [...complete.deployment, ...complete.configMap], "missing property 'privateHostedZoneIds'"],
    ['no deployment name', [...complete.zones, ...complete.configMap], "missing property 'deploymentName'"],
    ['no configmap name', [...complete.zones, ...complete.deployment], "missing property 'configMapName'"],
    [
      'an empty zone list',
      ['--set-json', 'route53.privateHostedZoneIds=[]', ...complete.deployment, ...complete.configMap],
      "'/route53/privateHostedZoneIds'",
    ],
    [
      'a lower-case zone id',
      ['--set', 'route53.privateHostedZoneIds={z-1}', ...complete.deployment, ...complete.configMap],
      "'/route53/privateHostedZoneIds/0'",
    ],
    [
      'an invalid deployment name',
      [...complete.zones, '--set', 'thanos.deploymentName=Thanos_Query', ...complete.configMap],
      "'/thanos/deploymentName'",
    ],
    [
      'an image digest that is not sha256',
      [...complete.zones, ...complete.deployment, ...complete.configMap, '--set', 'image.digest=latest'],
      "'/image/digest'",
    ],
    [
      'an alert duration that is not one',
      [...complete.zones, ...complete.deployment, ...complete.configMap, '--set', 'prometheusRule.syncStale.for=5 minutes'],
      "'/prometheusRule/syncStale/for'",
    ],
    [
      'a size ratio above 1',
      [...complete.zones, ...complete.deployment, ...complete.configMap, '--set', 'prometheusRule.configMapSize.ratio=1.5'],
      "'/prometheusRule/configMapSize/ratio'",
    ],
  ])('fails on %s and names the value', async (_case, args, message) => {
    const result = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...args]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it('renders once the three required values are given', async () => {
    const result = await helm(['template', RELEASE, CHART, ...complete.zones, ...complete.deployment, ...complete.configMap]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  /** `helm template` with the valid values plus `args`, its failure returned rather than thrown. */
  const templateWith = (...args: string[]) => helm(['template', RELEASE, CHART, '-f', VALID_VALUES, ...args]);

  it('refuses an extraEnv entry that names a variable the chart sets itself, naming it', async () => {
    const result = await templateWith(
      '--set-json',
      'extraEnv=[{"name":"NODE_OPTIONS","value":"--trace-warnings"},{"name":"LOG_LEVEL","value":"debug"}]',
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('extraEnv sets LOG_LEVEL, which the chart sets itself');
    const own = await render('--set-json', 'extraEnv=[{"name":"NODE_OPTIONS","value":"--trace-warnings"}]');
    expect(containerOf(only<V1Deployment>(own, 'Deployment')).env).toContainEqual({ name: 'NODE_OPTIONS', value: '--trace-warnings' });
  });

  it('refuses both an existing Secret and an inline hook URL', async () => {
    const result = await templateWith(
      '--set',
      'alerts.mattermostHook.existingSecret=hook',
      '--set',
      'alerts.mattermostHook.url=https://mattermost.example.com/hooks/x',
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('set either existingSecret or url, not both');
    expect(result.stderr).not.toContain('hooks/x');
  });
});

/** The prometheus-operator CRDs the chart's optional objects need, created as the operator ships them; waits until served. */
async function applyMonitoringCrds(kubeConfig: KubeConfig): Promise<void> {
  const dir = (await resolvePeerBinaries(['prometheus-operator-crds']))['prometheus-operator-crds'];
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const names = await Promise.all(
    ['monitoring.coreos.com_prometheusrules.yaml', 'monitoring.coreos.com_servicemonitors.yaml'].map(async (file) => {
      // loadYaml maps the schema's x-kubernetes-* keys onto the client's model, which a plain YAML parse would lose.
      const crd = loadYaml<V1CustomResourceDefinition>(await readFile(join(dir, file), 'utf8'));
      await api.createCustomResourceDefinition({ body: crd });
      return crd.metadata!.name!;
    }),
  );
  const established = async (name: string) =>
    (await api.readCustomResourceDefinition({ name })).status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ===
    true;
  await waitFor(async () => (await Promise.all(names.map(established))).every(Boolean), 'the monitoring CRDs established', 30_000);
}

describe('helm install into a real kube-apiserver', () => {
  let controlPlane: ControlPlane | undefined;

  beforeAll(async () => {
    controlPlane = await startControlPlane();
  }, PEER_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await controlPlane?.stop();
  });

  async function install(namespace: string, ...args: string[]): Promise<ToolResult> {
    const result = await helm(chartInstallArgs(RELEASE, namespace, controlPlane!.kubeconfigPath, ...args));
    if (result.code !== 0) throw new Error(`helm install failed (${result.code}):\n${result.stderr}`);
    return result;
  }

  const decisions = (account: ServiceAccountRef, requests: Record<string, V1ResourceAttributes>) =>
    accessDecisions(controlPlane!.kubeConfig(), account, requests);

  it('installs, and its ServiceAccount may patch the named Deployment but not delete pods', async () => {
    const namespace = await controlPlane!.createNamespace('chart');
    const installed = await install(namespace);
    expect(installed.stdout).toContain(`kubectl -n ${namespace} get configmap thanos-store-discovery`);

    const kubeConfig = controlPlane!.kubeConfig();
    const account = await kubeConfig
      .makeApiClient(CoreV1Api)
      .readNamespacedServiceAccount({ name: 'tsd-thanos-store-discovery', namespace });
    const deployment = await kubeConfig
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: 'tsd-thanos-store-discovery', namespace });
    expect(deployment.spec?.replicas).toBe(1);

    const at = (attributes: V1ResourceAttributes): V1ResourceAttributes => ({ namespace, ...attributes });
    expect(
      await decisions(
        { namespace, name: account.metadata!.name! },
        {
          'patch deployment thanos-query': at({ group: 'apps', resource: 'deployments', verb: 'patch', name: 'thanos-query' }),
          'watch deployment thanos-query': at({ group: 'apps', resource: 'deployments', verb: 'watch', name: 'thanos-query' }),
          'watch all deployments': at({ group: 'apps', resource: 'deployments', verb: 'watch' }),
          'patch another deployment': at({ group: 'apps', resource: 'deployments', verb: 'patch', name: 'other' }),
          'delete deployment thanos-query': at({ group: 'apps', resource: 'deployments', verb: 'delete', name: 'thanos-query' }),
          'patch configmap thanos-store-discovery': at({ resource: 'configmaps', verb: 'patch', name: 'thanos-store-discovery' }),
          'create configmaps': at({ resource: 'configmaps', verb: 'create' }),
          'patch another configmap': at({ resource: 'configmaps', verb: 'patch', name: 'kube-root-ca.crt' }),
          'create events': at({ resource: 'events', verb: 'create' }),
          'delete pods': at({ resource: 'pods', verb: 'delete' }),
          'list pods': at({ resource: 'pods', verb: 'list' }),
          'get secrets': at({ resource: 'secrets', verb: 'get' }),
          'patch thanos-query in another namespace': {
            namespace: 'default',
            group: 'apps',
            resource: 'deployments',
            verb: 'patch',
            name: 'thanos-query',
          },
        },
      ),
    ).toEqual({
      'patch deployment thanos-query': true,
      'watch deployment thanos-query': true,
      'watch all deployments': false,
      'patch another deployment': false,
      'delete deployment thanos-query': false,
      'patch configmap thanos-store-discovery': true,
      'create configmaps': true,
      'patch another configmap': false,
      'create events': true,
      'delete pods': false,
      'list pods': false,
      'get secrets': false,
      'patch thanos-query in another namespace': false,
    });
  });

  const monitoringValues = [
    '--set',
    'serviceMonitor.enabled=true',
    '--set',
    'prometheusRule.enabled=true',
    '--set',
    'grafanaDashboard.enabled=true',
    '--set',
    'leaderElection.enabled=true',
    '--set',
    'leaderElection.replicas=2',
  ];

  it('installs without the monitoring.coreos.com CRDs, leaving out the ServiceMonitor and PrometheusRule', async () => {
    const namespace = await controlPlane!.createNamespace('chart-no-crds');
    const installed = await install(namespace, ...monitoringValues);
    expect(installed.stdout).toContain('NOT INSTALLED: the ServiceMonitor');
    expect(installed.stdout).toContain('NOT INSTALLED: the PrometheusRule');
    const listed = await helm(['get', 'manifest', RELEASE, '--namespace', namespace, '--kubeconfig', controlPlane!.kubeconfigPath]);
    const kinds = parseAllDocuments(listed.stdout)
      .map((doc) => (doc.toJS() as Manifest | null)?.kind)
      .filter((kind) => kind !== undefined)
      .sort();
    expect(kinds).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
  });

  it('installs the PrometheusRule, ServiceMonitor, dashboard and PodDisruptionBudget once the CRDs are applied', async () => {
    const kubeConfig = controlPlane!.kubeConfig();
    await applyMonitoringCrds(kubeConfig);
    const namespace = await controlPlane!.createNamespace('chart-monitoring');
    const installed = await install(namespace, ...monitoringValues, '--set', 'prometheusRule.labels.release=prom');
    expect(installed.stdout).toContain('A ServiceMonitor is installed: it scrapes them every 30s.');
    expect(installed.stdout).toContain('A PrometheusRule is installed.');

    const objects = kubeConfig.makeApiClient(CustomObjectsApi);
    const name = 'tsd-thanos-store-discovery';
    const rule = (await objects.getNamespacedCustomObject({
      group: 'monitoring.coreos.com',
      version: 'v1',
      namespace,
      plural: 'prometheusrules',
      name,
    })) as Manifest & {
      spec: { groups: { rules: { alert: string }[] }[] };
    };
    expect(rule.metadata.labels).toMatchObject({ release: 'prom' });
    expect(rule.spec.groups[0]!.rules.map((r) => r.alert)).toHaveLength(12);
    const monitor = (await objects.getNamespacedCustomObject({
      group: 'monitoring.coreos.com',
      version: 'v1',
      namespace,
      plural: 'servicemonitors',
      name,
    })) as Manifest & {
      spec: { endpoints: { port: string }[] };
    };
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'http-metrics', path: '/metrics' })]);
    const budget = await kubeConfig.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name, namespace });
    expect(budget.spec?.maxUnavailable).toBe(1);
    const dashboard = await kubeConfig.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: `${name}-dashboard`, namespace });
    expect(dashboard.metadata?.labels?.['grafana_dashboard']).toBe('1');
  });

  it('grants access in thanos.namespace when Thanos runs outside the release namespace', async () => {
    const releaseNamespace = await controlPlane!.createNamespace('chart-release');
    const thanosNamespace = await controlPlane!.createNamespace('chart-thanos');
    await install(releaseNamespace, '--set', `thanos.namespace=${thanosNamespace}`);

    const patch = (namespace: string): V1ResourceAttributes => ({
      namespace,
      group: 'apps',
      resource: 'deployments',
      verb: 'patch',
      name: 'thanos-query',
    });
    expect(
      await decisions(
        { namespace: releaseNamespace, name: 'tsd-thanos-store-discovery' },
        {
          'in the Thanos namespace': patch(thanosNamespace),
          'in the release namespace': patch(releaseNamespace),
        },
      ),
    ).toEqual({ 'in the Thanos namespace': true, 'in the release namespace': false });
  });
});
