// The Helm chart, rendered and linted by a real helm binary, then installed into a real kube-apiserver where
// SubjectAccessReviews check what its ServiceAccount may do.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  type V1Deployment,
  type V1EnvVar,
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

const CHART = fileURLToPath(new URL('../../charts/thanos-store-discovery', import.meta.url));
const VALID_VALUES = join(CHART, 'ci/default-values.yaml');
const RELEASE = 'tsd';
const NAMESPACE = 'monitoring';
// The first build of helm, etcd or kube-apiserver takes minutes, and another process may hold the build lock.
const PEER_BUILD_TIMEOUT_MS = 20 * 60_000;

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

let helmPath: string;
let helmHome: string;

beforeAll(async () => {
  helmPath = (await resolvePeerBinaries(['helm'])).helm;
  // Keep helm's cache, config and data out of the user's home.
  helmHome = await mkdtemp(join(tmpdir(), 'tsd-helm-home-'));
}, PEER_BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (helmHome !== undefined) await rm(helmHome, { recursive: true, force: true });
});

function helm(args: readonly string[]): Promise<HelmResult> {
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  return new Promise((resolve, reject) => {
    execFile(helmPath, args, { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(error);
      else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
    });
  });
}

/** `helm template` with the valid values plus `args`; fails the test with helm's stderr when helm fails. */
async function render(...args: string[]): Promise<Manifest[]> {
  const result = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '-f', VALID_VALUES, ...args]);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
}

function only<T>(manifests: readonly Manifest[], kind: string): T {
  const found = manifests.filter((m) => m.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, rendered ${found.length}`);
  return found[0] as unknown as T;
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
  { apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch', 'create'] },
  { apiGroups: [''], resources: ['configmaps'], resourceNames: ['thanos-store-discovery'], verbs: ['get', 'update', 'patch'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list', 'watch'] },
  { apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['thanos-query'], verbs: ['get', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
]);

describe('helm lint', () => {
  it('passes --strict with the valid CI values', async () => {
    const result = await helm(['lint', '--strict', CHART, '-f', VALID_VALUES]);
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
        '--set-json', 'route53.privateHostedZoneIds=["Z111AAA","/hostedzone/Z222BBB"]',
        '--set', 'route53.recordSuffix=-store',
        '--set', 'route53.storePort=10905',
        '--set', 'thanos.namespace=thanos',
        '--set', 'thanos.deploymentName=query',
        '--set', 'thanos.configMapName=stores',
        '--set', 'thanos.configMapKey=endpoints.yaml',
        '--set', 'thanos.outputFormat=file_sd',
        '--set', 'thanos.restartMode=none',
        '--set', 'controller.pollIntervalSeconds=86400',
        '--set', 'controller.logLevel=debug',
        '--set', 'controller.dryRun=true',
        '--set', 'aws.region=eu-west-1',
        '--set', 'aws.route53EndpointUrl=http://127.0.0.1:5000',
        '--set', 'alerts.repeatSeconds=0',
        '--set', 'metrics.port=9090',
        '--set-json', 'extraEnv=[{"name":"NODE_OPTIONS","value":"--max-old-space-size=128"}]',
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
      POLL_INTERVAL_SECONDS: '86400',
      LOG_LEVEL: 'debug',
      DRY_RUN: 'true',
      LISTEN_ADDRESS: ':9090',
      ALERT_REPEAT_SECONDS: '0',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_ROUTE_53: 'http://127.0.0.1:5000',
      NODE_OPTIONS: '--max-old-space-size=128',
    });
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
      '--set', 'alerts.mattermostHook.existingSecret=mattermost-hook',
      '--set', 'alerts.mattermostHook.existingSecretKey=webhook',
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

  it('renders a ServiceMonitor selecting the Service when serviceMonitor.enabled=true', async () => {
    const manifests = await render('--set', 'serviceMonitor.enabled=true', '--set', 'serviceMonitor.labels.release=prom');
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
    ['an empty zone list', ['--set-json', 'route53.privateHostedZoneIds=[]', ...complete.deployment, ...complete.configMap], "'/route53/privateHostedZoneIds'"],
    ['a lower-case zone id', ['--set', 'route53.privateHostedZoneIds={z-1}', ...complete.deployment, ...complete.configMap], "'/route53/privateHostedZoneIds/0'"],
    ['an invalid deployment name', [...complete.zones, '--set', 'thanos.deploymentName=Thanos_Query', ...complete.configMap], "'/thanos/deploymentName'"],
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

  it('refuses both an existing Secret and an inline hook URL', async () => {
    const result = await helm([
      'template', RELEASE, CHART, '-f', VALID_VALUES,
      '--set', 'alerts.mattermostHook.existingSecret=hook',
      '--set', 'alerts.mattermostHook.url=https://mattermost.example.com/hooks/x',
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('set either existingSecret or url, not both');
    expect(result.stderr).not.toContain('hooks/x');
  });
});

describe('helm install into a real kube-apiserver', () => {
  let controlPlane: ControlPlane | undefined;
  let authorization: AuthorizationV1Api;

  beforeAll(async () => {
    controlPlane = await startControlPlane();
    authorization = controlPlane.kubeConfig().makeApiClient(AuthorizationV1Api);
  }, PEER_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await controlPlane?.stop();
  });

  async function install(namespace: string, ...args: string[]): Promise<HelmResult> {
    const result = await helm([
      'install', RELEASE, CHART, '--namespace', namespace, '--kubeconfig', controlPlane!.kubeconfigPath, '-f', VALID_VALUES, ...args,
    ]);
    if (result.code !== 0) throw new Error(`helm install failed (${result.code}):\n${result.stderr}`);
    return result;
  }

  /** What the API server's RBAC authorizer decides for each request the ServiceAccount might make. */
  async function decisions(
    serviceAccount: { namespace: string; name: string },
    requests: Record<string, V1ResourceAttributes>,
  ): Promise<Record<string, boolean>> {
    const entries = await Promise.all(
      Object.entries(requests).map(async ([label, resourceAttributes]) => {
        const review = await authorization.createSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: `system:serviceaccount:${serviceAccount.namespace}:${serviceAccount.name}`,
              groups: ['system:serviceaccounts', `system:serviceaccounts:${serviceAccount.namespace}`, 'system:authenticated'],
              resourceAttributes,
            },
          },
        });
        return [label, review.status?.allowed === true] as const;
      }),
    );
    return Object.fromEntries(entries);
  }

  it('installs, and its ServiceAccount may patch the named Deployment but not delete pods', async () => {
    const namespace = await controlPlane!.createNamespace('chart');
    const installed = await install(namespace);
    expect(installed.stdout).toContain(`kubectl -n ${namespace} get configmap thanos-store-discovery`);

    const kubeConfig = controlPlane!.kubeConfig();
    const account = await kubeConfig.makeApiClient(CoreV1Api).readNamespacedServiceAccount({ name: 'tsd-thanos-store-discovery', namespace });
    const deployment = await kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'tsd-thanos-store-discovery', namespace });
    expect(deployment.spec?.replicas).toBe(1);

    const at = (attributes: V1ResourceAttributes): V1ResourceAttributes => ({ namespace, ...attributes });
    expect(await decisions({ namespace, name: account.metadata!.name! }, {
      'patch deployment thanos-query': at({ group: 'apps', resource: 'deployments', verb: 'patch', name: 'thanos-query' }),
      'get deployment thanos-query': at({ group: 'apps', resource: 'deployments', verb: 'get', name: 'thanos-query' }),
      'watch deployments': at({ group: 'apps', resource: 'deployments', verb: 'watch' }),
      'patch another deployment': at({ group: 'apps', resource: 'deployments', verb: 'patch', name: 'other' }),
      'delete deployment thanos-query': at({ group: 'apps', resource: 'deployments', verb: 'delete', name: 'thanos-query' }),
      'update configmap thanos-store-discovery': at({ resource: 'configmaps', verb: 'update', name: 'thanos-store-discovery' }),
      'create configmaps': at({ resource: 'configmaps', verb: 'create' }),
      'update another configmap': at({ resource: 'configmaps', verb: 'update', name: 'kube-root-ca.crt' }),
      'create events': at({ resource: 'events', verb: 'create' }),
      'delete pods': at({ resource: 'pods', verb: 'delete' }),
      'list pods': at({ resource: 'pods', verb: 'list' }),
      'get secrets': at({ resource: 'secrets', verb: 'get' }),
      'patch thanos-query in another namespace': { namespace: 'default', group: 'apps', resource: 'deployments', verb: 'patch', name: 'thanos-query' },
    })).toEqual({
      'patch deployment thanos-query': true,
      'get deployment thanos-query': true,
      'watch deployments': true,
      'patch another deployment': false,
      'delete deployment thanos-query': false,
      'update configmap thanos-store-discovery': true,
      'create configmaps': true,
      'update another configmap': false,
      'create events': true,
      'delete pods': false,
      'list pods': false,
      'get secrets': false,
      'patch thanos-query in another namespace': false,
    });
  });

  it('grants access in thanos.namespace when Thanos runs outside the release namespace', async () => {
    const releaseNamespace = await controlPlane!.createNamespace('chart-release');
    const thanosNamespace = await controlPlane!.createNamespace('chart-thanos');
    await install(releaseNamespace, '--set', `thanos.namespace=${thanosNamespace}`);

    const patch = (namespace: string): V1ResourceAttributes => ({ namespace, group: 'apps', resource: 'deployments', verb: 'patch', name: 'thanos-query' });
    expect(await decisions({ namespace: releaseNamespace, name: 'tsd-thanos-store-discovery' }, {
      'in the Thanos namespace': patch(thanosNamespace),
      'in the release namespace': patch(releaseNamespace),
    })).toEqual({ 'in the Thanos namespace': true, 'in the release namespace': false });
  });
});
