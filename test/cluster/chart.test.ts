// The chart, the project's image and Thanos Query as pods under a real kubelet (issue 17). Each step asserts what a
// user would check with kubectl: pod readiness through the kubelet's probes, logs, the objects' status, and what each
// Thanos Query pod serves (read through the API server's pod proxy, as `kubectl get --raw` would).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  PolicyV1Api,
  Watch,
  type KubeConfig,
  type V1ConfigMap,
  type V1ContainerStateTerminated,
  type V1Lease,
  type V1Pod,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startMoto, type Moto } from '../peers/moto.ts';
import { startNode, type Node } from '../peers/node.ts';
import { exportProjectImage } from '../peers/project-image.ts';
import { route53Fixture, TEST_AWS_CREDENTIALS, type Route53Fixture } from '../peers/route53-fixture.ts';
import { startThanosStore, type ListedStore, type ThanosStore } from '../peers/thanos.ts';
import { aRecords } from '../support/scenario.ts';
import {
  createThanosDeployment,
  readConfigMap,
  readDeployment,
  SD_KEY,
  templateHash,
  THANOS_CONFIGMAP,
  THANOS_DEPLOYMENT,
} from '../support/thanos.ts';
import { CHART, createHelm, PEER_BUILD_TIMEOUT_MS, type Helm } from '../support/tools.ts';
import { waitFor } from '../support/wait.ts';
import { resultsPath } from '../support/results.ts';

const ZONE = 'internal.example.com';
const [A, B, C] = ['a', 'b', 'c'].map((cluster) => `cluster-${cluster}-grpc.${ZONE}`) as [string, string, string];
const STORE_PORT = 10901;
const QUERY_HTTP_PORT = 10902;
const RELEASE = 'tsd';
// The chart's names for release `tsd`: `<release>-<chart>`, and its default Lease name.
const CONTROLLER_DEPLOYMENT = `${RELEASE}-thanos-store-discovery`;
const LEASE = 'thanos-store-discovery';
const CONTROLLER_LABEL = 'app.kubernetes.io/name=thanos-store-discovery';
const THANOS_LABEL = 'app.kubernetes.io/name=thanos-query';
const STEP_TIMEOUT_MS = 300_000;
const POD_TIMEOUT_MS = 180_000;
const RELOAD_SECONDS = 2;
const METRIC = 'thanos_store_discovery_';
const SUCCESSFUL_POLLS = `${METRIC}route53_poll_duration_seconds_count{outcome="success"}`;
// The soak: as many matching records as the README's sizing goes to, polled for a few minutes.
const SOAK_RECORDS = 10_000;
const SOAK_MS = 180_000;
const SOAK_SAMPLE_MS = 10_000;
const SOAK_ZONE = 'soak.example.com';
// A sidecar that logs a line each time the mounted file's content changes: the log's timestamps (the runtime's) say
// when the kubelet updated the file in the pod.
const FILE_WATCHER = {
  name: 'watch-sd',
  command: [
    '/bin/busybox',
    'sh',
    '-c',
    'p=; while :; do c=$(/bin/busybox md5sum < /etc/thanos/sd/servicediscovery.yml 2>&1); [ "$c" != "$p" ] && echo "$c" && p=$c; /bin/busybox sleep 0.1; done',
  ],
  volumeMounts: [{ name: 'sd', mountPath: '/etc/thanos/sd' }],
  securityContext: { runAsUser: 1001, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
};

interface Cluster {
  node: Node;
  moto: Moto;
  route53: Route53Fixture;
  zone: string;
  stores: ThanosStore[];
  helm: Helm;
  namespace: string;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  /** The chart values of the release, without `route53`: another release (the soak) reuses them. */
  values: Record<string, unknown>;
}

const isReady = (pod: V1Pod): boolean => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** When `step` fails, its error carries `state()` too: what the cluster looked like at the failure. */
async function explainedBy<T>(step: Promise<T>, state: () => Promise<string>): Promise<T> {
  try {
    return await step;
  } catch (error) {
    const seen = await state().catch((cause: unknown) => `(the state could not be read: ${String(cause)})`);
    throw new Error(`${(error as Error).message}\n${seen}`, { cause: error });
  }
}

/** The Lease and each controller pod: its phase, readiness and last log lines. */
async function controllersState(core: CoreV1Api, namespace: string, readLease: () => Promise<V1Lease>): Promise<string> {
  const lease = await readLease();
  const { items } = await core.listNamespacedPod({ namespace, labelSelector: CONTROLLER_LABEL });
  const pods = await Promise.all(
    items.map(async (pod) => {
      const name = pod.metadata?.name as string;
      const log = await core.readNamespacedPodLog({ name, namespace, tailLines: 40 }).catch((error: unknown) => String(error));
      const deleting = pod.metadata?.deletionTimestamp === undefined ? '' : ', deleting';
      return `pod ${name} (${pod.status?.phase}, ready ${isReady(pod)}${deleting}), last log lines:\n${log}`;
    }),
  );
  return [`Lease: ${JSON.stringify(lease.spec)}`, ...pods].join('\n');
}

async function livePods(core: CoreV1Api, namespace: string, labelSelector: string): Promise<V1Pod[]> {
  const { items } = await core.listNamespacedPod({ namespace, labelSelector });
  return items.filter((pod) => pod.metadata?.deletionTimestamp === undefined);
}

/** What one Thanos Query pod lists at /api/v1/stores, by name, with whether its last health check passed. */
async function storesOf(core: CoreV1Api, namespace: string, pod: string): Promise<{ name: string; healthy: boolean }[]> {
  const text = await core.connectGetNamespacedPodProxyWithPath({ name: `${pod}:${QUERY_HTTP_PORT}`, namespace, path: 'api/v1/stores' });
  // The client hands back a JSON body already parsed.
  const body = (typeof text === 'string' ? JSON.parse(text) : text) as { data?: Record<string, ListedStore[] | null> };
  return Object.values(body.data ?? {})
    .flatMap((list) => list ?? [])
    .map((store) => ({ name: store.name, healthy: store.lastError === null || store.lastError === '' }))
    .sort((x, y) => (x.name < y.name ? -1 : 1));
}

/** The ConfigMap names exactly `hosts` of the three clusters. */
function lists(configMap: V1ConfigMap | undefined, hosts: readonly string[]): boolean {
  const text = configMap?.data?.[SD_KEY] ?? '';
  return [A, B, C].every((host) => text.includes(`${host}.:${STORE_PORT}`) === hosts.includes(host));
}

const published = (hosts: readonly string[]) => [...hosts].sort().map((host) => ({ name: `${host}.:${STORE_PORT}`, healthy: true }));

const equal = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);

/** When the file watcher of a Thanos pod last logged a change of the mounted file (the runtime's log timestamp). */
async function lastFileChange(core: CoreV1Api, namespace: string, pod: string): Promise<number> {
  const log = await core.readNamespacedPodLog({ name: pod, namespace, container: FILE_WATCHER.name, timestamps: true });
  const last = log.trim().split('\n').at(-1) ?? '';
  // RFC 3339 with nanoseconds; Date takes milliseconds.
  const stamp = /^(\S+?\.\d{3})\d*Z /.exec(last)?.[1];
  if (stamp === undefined) throw new Error(`no timestamped line in the ${FILE_WATCHER.name} log of ${pod}: ${last}`);
  return Date.parse(`${stamp}Z`);
}

/** A metric of the controller pod's /metrics, read through the API server's pod proxy. */
async function controllerMetric(core: CoreV1Api, namespace: string, pod: string, series: string): Promise<number | undefined> {
  const text = await core.connectGetNamespacedPodProxyWithPath({ name: `${pod}:8080`, namespace, path: 'metrics' });
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const podNames = async (core: CoreV1Api, namespace: string, selector: string): Promise<string[]> =>
  (await livePods(core, namespace, selector)).map((p) => p.metadata?.name as string).sort();

/** A Date, or the RFC 3339 text a watch hands back, in epoch milliseconds. */
const epochMs = (time: unknown): number => (time instanceof Date ? time.getTime() : Date.parse(String(time)));

/** Both Thanos Query pods are Ready, none of them in `before`, and each lists exactly `hosts`, all healthy. */
async function thanosServes(core: CoreV1Api, namespace: string, hosts: readonly string[], before: Set<string>): Promise<boolean> {
  const pods = await livePods(core, namespace, THANOS_LABEL);
  if (pods.length !== 2 || !pods.every(isReady) || pods.some((p) => before.has(p.metadata?.name as string))) return false;
  for (const pod of pods) if (!equal(await storesOf(core, namespace, pod.metadata?.name as string), published(hosts))) return false;
  return true;
}

/**
 * `helm upgrade --reuse-values --set ...` of the release (helm must say nothing on stderr), then waits until the
 * controller Deployment has rolled out in full, as `kubectl rollout status` reports it: the newest generation
 * observed, every replica updated and Ready, and none of the pods from before left. Returns the new pods.
 */
async function helmUpgrade(cluster: Cluster, ...sets: string[]): Promise<V1Pod[]> {
  const { helm, namespace, node, core } = cluster;
  const before = await podNames(core, namespace, CONTROLLER_LABEL);
  const kubeconfig = node.controlPlane.kubeconfigPath;
  const args = ['upgrade', RELEASE, CHART, '--namespace', namespace, '--kubeconfig', kubeconfig, '--reuse-values'];
  const upgrade = await helm.run([...args, ...sets.flatMap((set) => ['--set', set])]);
  expect(upgrade.stderr).toBe('');
  expect(upgrade.code).toBe(0);
  return controllerRolledOut(cluster, before);
}

/** The rollout wait of helmUpgrade: `before` are the controller pods from before the upgrade. */
async function controllerRolledOut(cluster: Cluster, before: readonly string[]): Promise<V1Pod[]> {
  const { core, namespace, kubeConfig } = cluster;
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  let pods: V1Pod[] = [];
  let seen: unknown;
  await waitFor(
    async () => {
      const { metadata, spec, status } = await apps.readNamespacedDeployment({ name: CONTROLLER_DEPLOYMENT, namespace });
      const all = await livePods(core, namespace, CONTROLLER_LABEL);
      seen = {
        status,
        pods: all.map((p) => ({ name: p.metadata?.name, phase: p.status?.phase, containers: p.status?.containerStatuses })),
      };
      const replicas = spec?.replicas ?? 1;
      if ((status?.observedGeneration ?? 0) < (metadata?.generation ?? 0)) return false;
      if (status?.updatedReplicas !== replicas || status.readyReplicas !== replicas || status.replicas !== replicas) return false;
      pods = await livePods(core, namespace, CONTROLLER_LABEL);
      return pods.length === replicas && pods.every(isReady) && !pods.some((p) => before.includes(p.metadata?.name as string));
    },
    'the controller Deployment rolled out',
    POD_TIMEOUT_MS,
    () => `${JSON.stringify(seen)}\n${cluster.node.logTail()}`,
  );
  return pods;
}

/** What the controller container's v1 memory cgroup says (containerd names it after the container id). */
async function memoryCgroup(pod: V1Pod) {
  const id = pod.status?.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
  const dir = `/sys/fs/cgroup/memory/k8s.io/${id}`;
  const read = (file: string) => readFile(join(dir, file), 'utf8');
  const stat = await read('memory.stat');
  const pid = (await read('cgroup.procs')).trim().split('\n')[0];
  // The container runs node as its first process: its peak RSS is the kernel's high-water mark of it.
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1]) * 1024;
  return {
    limitBytes: Number(await read('memory.limit_in_bytes')),
    // What the limit is checked against (anonymous memory and page cache), at its highest since the start.
    maxUsageBytes: Number(await read('memory.max_usage_in_bytes')),
    rssBytes: Number(/^total_rss (\d+)$/m.exec(stat)?.[1]),
    processRssBytes: kib('VmRSS'),
    processRssAnonBytes: kib('RssAnon'),
    processPeakRssBytes: kib('VmHWM'),
    oomKills: Number(/^oom_kill (\d+)$/m.exec(await read('memory.oom_control'))?.[1]),
  };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Two Thanos Query pods reading the ConfigMap with `sdArgs`, each store's name resolved through hostAliases. */
async function createThanosQuery(cluster: Cluster, namespace: string, sdArgs: readonly string[]): Promise<void> {
  const { node, kubeConfig, stores } = cluster;
  await createThanosDeployment(kubeConfig, namespace, THANOS_DEPLOYMENT, {
    container: {
      image: node.thanosImage,
      imagePullPolicy: 'Never',
      args: ['query', `--http-address=0.0.0.0:${QUERY_HTTP_PORT}`, '--grpc-address=0.0.0.0:10901', ...sdArgs],
      ports: [{ name: 'http', containerPort: QUERY_HTTP_PORT }],
      readinessProbe: { httpGet: { path: '/-/ready', port: QUERY_HTTP_PORT }, periodSeconds: 2 },
      securityContext: { runAsUser: 1001, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
    },
    sidecars: [{ ...FILE_WATCHER, image: node.thanosImage, imagePullPolicy: 'Never' }],
    pod: {
      hostAliases: stores.map((store, i) => ({ ip: store.grpcAddress.split(':')[0] as string, hostnames: [[A, B, C][i] as string] })),
      // Not optional: with endpoint-config, Thanos exits on a missing file; the pods wait for the controller's.
      volumes: [{ name: 'sd', configMap: { name: THANOS_CONFIGMAP } }],
    },
  });
}

/** A namespace of its own, with its default ServiceAccount (pods are refused until the controller made it). */
async function createNamespace(cluster: Cluster, prefix: string): Promise<string> {
  const namespace = await cluster.node.controlPlane.createNamespace(prefix);
  await waitFor(
    async () => (await cluster.core.readNamespacedServiceAccount({ name: 'default', namespace })) !== undefined,
    'the default ServiceAccount',
  );
  return namespace;
}

/** `helm install` of the chart as release `tsd` in `namespace`, with the cluster's values and `values` over them. */
async function helmInstall(cluster: Cluster, namespace: string, values: Record<string, unknown>): Promise<void> {
  const valuesPath = join(cluster.node.host.dir, `values-${namespace}.yaml`);
  await writeFile(valuesPath, stringify({ ...cluster.values, ...values }));
  const kubeconfig = cluster.node.controlPlane.kubeconfigPath;
  const install = await cluster.helm.run([
    'install',
    RELEASE,
    CHART,
    '--namespace',
    namespace,
    '--kubeconfig',
    kubeconfig,
    '-f',
    valuesPath,
  ]);
  if (install.code !== 0) throw new Error(`helm install failed (${install.code}):\n${install.stderr}`);
}

async function startCluster(): Promise<Cluster> {
  const node = await startNode();
  const cluster: Partial<Cluster> = { node };
  try {
    const { host, controlPlane } = node;
    cluster.moto = await startMoto({ address: await host.addAddress(), wrap: host.wrap });
    // Each store stands for a cluster; its name resolves to its own address in the node's namespace (hostAliases).
    cluster.stores = [];
    for (let i = 0; i < 3; i++) {
      cluster.stores.push(await startThanosStore({ ip: await host.addAddress(), grpcPort: STORE_PORT, wrap: host.wrap }));
    }
    const image = await exportProjectImage(host.dir);
    await node.importImage(image.archive);
    cluster.route53 = route53Fixture(cluster.moto.endpoint);
    cluster.zone = await cluster.route53.createPrivateZone(ZONE);
    await cluster.route53.upsertRecords(cluster.zone, aRecords([A, B]));
    cluster.helm = await createHelm();
    cluster.kubeConfig = controlPlane.kubeConfig();
    cluster.core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    const namespace = await createNamespace(cluster as Cluster, 'tsd-node-chart');
    cluster.namespace = namespace;
    await createThanosQuery(cluster as Cluster, namespace, [
      '--endpoint.sd-config-file=/etc/thanos/sd/servicediscovery.yml',
      // Read again every 2 s, as RESTART_MODE=none needs (the default 5m is slower than the 2 s poll).
      `--endpoint.sd-config-reload-interval=${RELOAD_SECONDS}s`,
    ]);

    const version = image.reference.slice(image.reference.lastIndexOf(':') + 1);
    cluster.values = {
      image: { repository: image.reference.slice(0, image.reference.lastIndexOf(':')), tag: version, pullPolicy: 'Never' },
      aws: { route53EndpointUrl: cluster.moto.endpoint },
      thanos: { deploymentName: THANOS_DEPLOYMENT, configMapName: THANOS_CONFIGMAP },
      controller: { pollIntervalSeconds: 2 },
      safety: { restartMinIntervalSeconds: 0 },
      extraEnv: [
        // No kube-proxy runs: the in-cluster client reaches the API server at the node's address instead of the
        // `kubernetes` Service's ClusterIP. It still authenticates with the pod's projected token.
        { name: 'KUBERNETES_SERVICE_HOST', value: host.nodeAddress },
        { name: 'KUBERNETES_SERVICE_PORT', value: new URL(controlPlane.server).port },
        { name: 'AWS_ACCESS_KEY_ID', value: TEST_AWS_CREDENTIALS.accessKeyId },
        { name: 'AWS_SECRET_ACCESS_KEY', value: TEST_AWS_CREDENTIALS.secretAccessKey },
      ],
    };
    await helmInstall(cluster as Cluster, namespace, {
      route53: { privateHostedZoneIds: [cluster.zone] },
      delivery: { queryUrl: `http://${THANOS_DEPLOYMENT}:${QUERY_HTTP_PORT}`, checkIntervalSeconds: 5 },
    });
    return cluster as Cluster;
  } catch (error) {
    await stopCluster(cluster);
    throw error;
  }
}

async function stopCluster(cluster: Partial<Cluster>): Promise<void> {
  await cluster.helm?.close();
  cluster.route53?.destroy();
  for (const store of cluster.stores ?? []) await store.stop();
  await cluster.moto?.stop();
  await cluster.node?.stop();
}

describe('the chart, the image and Thanos Query on a real node', () => {
  let cluster: Cluster | undefined;

  beforeAll(async () => {
    cluster = await startCluster();
  }, PEER_BUILD_TIMEOUT_MS);
  afterAll(async () => {
    if (cluster !== undefined) await stopCluster(cluster);
  });

  const ready = (): Cluster => {
    if (cluster === undefined) throw new Error('the cluster did not start');
    return cluster;
  };
  const context = () => ready().node.logTail();

  it(
    'helm install: the pod is Ready through the kubelet probes, authenticates with its projected token, no 403',
    async () => {
      const { core, namespace, kubeConfig } = ready();
      let pods: V1Pod[] = [];
      await waitFor(
        async () => (pods = await livePods(core, namespace, CONTROLLER_LABEL)).length === 1 && isReady(pods[0] as V1Pod),
        'the controller pod Ready',
        POD_TIMEOUT_MS,
        () => `${JSON.stringify(pods.map((p) => p.status))}\n${context()}`,
      );
      const pod = pods[0] as V1Pod;
      expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
      // The token the ServiceAccount admission projected, and no other credential: the ConfigMap it wrote proves
      // the API server took that token and the chart's Role allowed the write.
      const projected = pod.spec?.volumes?.find((v) => v.projected?.sources?.some((s) => s.serviceAccountToken !== undefined));
      expect(projected).toBeDefined();
      await waitFor(async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY]?.includes(A) === true, 'the ConfigMap');
      const log = await core.readNamespacedPodLog({ name: pod.metadata?.name as string, namespace });
      expect(log).not.toMatch(/\b403\b|forbidden/i);
      expect(log).not.toMatch(/\b401\b|unauthorized/i);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'a Route53 add and remove: the ConfigMap follows, Thanos rolls one pod at a time, each new pod lists exactly the published stores, the delivery check reports all healthy',
    async () => {
      const { core, namespace, kubeConfig, route53, zone } = ready();
      const apps = kubeConfig.makeApiClient(AppsV1Api);
      const deliveredAt = async (): Promise<number> => {
        const [controller] = await livePods(core, namespace, CONTROLLER_LABEL);
        const name = controller?.metadata?.name as string;
        if ((await controllerMetric(core, namespace, name, `${METRIC}delivery_endpoints{state="unhealthy"}`)) !== 0) return 0;
        return (await controllerMetric(core, namespace, name, `${METRIC}delivery_last_match_timestamp_seconds`)) ?? 0;
      };

      await waitFor(() => thanosServes(core, namespace, [A, B], new Set()), 'both Thanos pods listing a and b', POD_TIMEOUT_MS, context);
      for (const [change, hosts] of [
        [() => route53.upsertRecords(zone, aRecords([A, B, C])), [A, B, C]],
        [
          () =>
            route53.deleteRecords(
              zone,
              aRecords([A, B, C]).filter((r) => r.name === B),
            ),
          [A, C],
        ],
      ] as const) {
        const before = new Set(await podNames(core, namespace, THANOS_LABEL));
        const changedAt = Date.now() / 1000;
        await change();
        await waitFor(async () => lists(await readConfigMap(kubeConfig, namespace), hosts), 'the ConfigMap to follow', 60_000, context);
        await waitFor(
          () => thanosServes(core, namespace, hosts, before),
          `two new Thanos pods listing ${hosts.join(', ')}`,
          POD_TIMEOUT_MS,
          context,
        );
        // One at a time: with maxSurge 1 and maxUnavailable 0 the second new pod starts only once the first is Ready.
        const fresh = (await livePods(core, namespace, THANOS_LABEL)).sort(
          (x, y) => Number(x.metadata?.creationTimestamp) - Number(y.metadata?.creationTimestamp),
        );
        const firstReady = fresh[0]?.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
        expect(Number(fresh[1]?.metadata?.creationTimestamp)).toBeGreaterThanOrEqual(Number(firstReady) - 1000);
        const deployment = await apps.readNamespacedDeployment({ name: THANOS_DEPLOYMENT, namespace });
        expect(deployment.status?.updatedReplicas).toBe(2);
        await waitFor(async () => (await deliveredAt()) > changedAt, 'the delivery check to report every pod healthy', 60_000, context);
      }
    },
    2 * STEP_TIMEOUT_MS,
  );

  it(
    'helm upgrade of a value: the controller rolls to a new pod template, Thanos Query keeps its template and its pods',
    async () => {
      const { core, namespace, kubeConfig } = ready();
      const apps = kubeConfig.makeApiClient(AppsV1Api);
      const readController = () => apps.readNamespacedDeployment({ name: CONTROLLER_DEPLOYMENT, namespace });
      const [controllerBefore, thanosBefore] = [await readController(), await readDeployment(kubeConfig, namespace)];
      const thanosPods = await podNames(core, namespace, THANOS_LABEL);

      const [pod] = await helmUpgrade(ready(), 'controller.logLevel=debug');
      const controllerAfter = await readController();
      expect(controllerAfter.metadata?.generation).toBe((controllerBefore.metadata?.generation ?? 0) + 1);
      expect(pod?.spec?.containers[0]?.env?.find((e) => e.name === 'LOG_LEVEL')?.value).toBe('debug');
      // The new controller has read Route53 and compared the list with the one Thanos runs; it had no cause to roll.
      const name = pod?.metadata?.name as string;
      await waitFor(
        async () => ((await controllerMetric(core, namespace, name, SUCCESSFUL_POLLS)) ?? 0) >= 2,
        'two polls of the new controller',
        60_000,
        context,
      );
      expect(await controllerMetric(core, namespace, name, `${METRIC}restarts_triggered_total`)).toBe(0);
      const thanosAfter = await readDeployment(kubeConfig, namespace);
      expect(thanosAfter?.metadata?.generation).toBe(thanosBefore?.metadata?.generation);
      expect(thanosAfter?.spec?.template.metadata?.annotations).toEqual(thanosBefore?.spec?.template.metadata?.annotations);
      expect(await podNames(core, namespace, THANOS_LABEL)).toEqual(thanosPods);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'leader election, 2 replicas: the PDB lets a drain evict one replica at a time; deleting the leader hands the Lease to another replica, which publishes the next change',
    async () => {
      const { core, namespace, kubeConfig, route53, zone } = ready();
      const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
      const policy = kubeConfig.makeApiClient(PolicyV1Api);
      const readLease = () => coordination.readNamespacedLease({ name: LEASE, namespace });
      // The holder identity is the pod name and a random suffix (`kubectl get lease` shows it).
      const leaderAmong = async (pods: readonly V1Pod[]): Promise<string | undefined> => {
        const holder = (await readLease()).spec?.holderIdentity ?? '';
        return pods.map((p) => p.metadata?.name as string).find((name) => holder.startsWith(`${name}_`));
      };
      const evict = (name: string) =>
        core.createNamespacedPodEviction({
          name,
          namespace,
          body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
        });

      let pods = await helmUpgrade(ready(), 'leaderElection.enabled=true');
      expect(pods).toHaveLength(2);
      let leader: string | undefined;
      await waitFor(async () => (leader = await leaderAmong(pods)) !== undefined, 'a replica holding the Lease', 60_000, context);
      const isLeader = async (pod: string) => controllerMetric(core, namespace, pod, `${METRIC}leader`);
      const standby = pods.map((p) => p.metadata?.name as string).find((name) => name !== leader) as string;
      await waitFor(async () => (await isLeader(leader as string)) === 1, 'the leader to say so in its metrics', 30_000, context);
      expect(await isLeader(standby)).toBe(0);

      // The drain: the PDB allows one replica down, so the standby is evicted and the leader, meanwhile, is not.
      const { items: budgets } = await policy.listNamespacedPodDisruptionBudget({ namespace });
      expect(budgets.map((b) => [b.metadata?.name, b.spec?.maxUnavailable])).toEqual([[CONTROLLER_DEPLOYMENT, 1]]);
      const budget = () => policy.readNamespacedPodDisruptionBudget({ name: CONTROLLER_DEPLOYMENT, namespace });
      await waitFor(async () => (await budget()).status?.disruptionsAllowed === 1, 'the PDB to allow one disruption', 60_000, context);
      await evict(standby);
      const refused = await evict(leader as string).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(ApiException);
      expect((refused as ApiException<unknown>).code).toBe(429);
      await waitFor(
        async () => (pods = await livePods(core, namespace, CONTROLLER_LABEL)).length === 2 && pods.every(isReady),
        'a new standby Ready',
        POD_TIMEOUT_MS,
        context,
      );
      expect(pods.map((p) => p.metadata?.name)).toContain(leader);
      expect(pods.map((p) => p.metadata?.name)).not.toContain(standby);

      // kubectl delete pod of the leader: it hands the Lease back on SIGTERM, and another replica takes it: the
      // standby, or the pod the ReplicaSet starts in the leader's place if its first read comes first.
      const standbyAtDelete = pods.map((p) => p.metadata?.name as string).find((name) => name !== leader);
      const transitions = (await readLease()).spec?.leaseTransitions ?? 0;
      const deletedAt = Date.now();
      await core.deleteNamespacedPod({ name: leader as string, namespace });
      let successor: string | undefined;
      await explainedBy(
        waitFor(
          async () => (successor = await leaderAmong(await livePods(core, namespace, CONTROLLER_LABEL))) !== undefined,
          'another replica to hold the Lease',
          120_000,
          context,
        ),
        () => controllersState(core, namespace, readLease),
      );
      const other = successor as string;
      expect(other).not.toBe(leader);
      const lease = await readLease();
      const takeoverMs = epochMs(lease.spec?.acquireTime) - deletedAt;
      expect(lease.spec?.leaseTransitions).toBe(transitions + 1);

      // The next Route53 change: the new leader writes the ConfigMap and rolls Thanos.
      const [hashBefore, thanosBefore] = [
        templateHash(await readDeployment(kubeConfig, namespace)),
        await podNames(core, namespace, THANOS_LABEL),
      ];
      const changedAt = Date.now();
      await route53.upsertRecords(zone, aRecords([A, B, C]));
      await waitFor(async () => lists(await readConfigMap(kubeConfig, namespace), [A, B, C]), 'the ConfigMap to follow', 60_000, context);
      const configMapAt = Date.now();
      await waitFor(
        async () => templateHash(await readDeployment(kubeConfig, namespace)) !== hashBefore,
        'the Thanos rollout',
        60_000,
        context,
      );
      const patchedAt = Date.now();
      await waitFor(
        () => thanosServes(core, namespace, [A, B, C], new Set(thanosBefore)),
        'two new Thanos pods listing a, b and c',
        POD_TIMEOUT_MS,
        context,
      );
      const rolledAt = Date.now();
      expect(await controllerMetric(core, namespace, other, `${METRIC}configmap_writes_total{operation="update"}`)).toBeGreaterThanOrEqual(
        1,
      );
      expect(await controllerMetric(core, namespace, other, `${METRIC}restarts_triggered_total`)).toBe(1);
      expect(await isLeader(other)).toBe(1);
      process.stderr.write(
        `[cluster] leader election: ${other === standbyAtDelete ? 'the standby' : 'the replacement pod'} held the Lease ${takeoverMs} ms after the leader pod's delete; the next Route53 change reached the ConfigMap in ${configMapAt - changedAt} ms, the Thanos pod template in ${patchedAt - changedAt} ms, both Thanos pods in ${rolledAt - changedAt} ms\n`,
      );
    },
    2 * STEP_TIMEOUT_MS,
  );

  it(
    'RESTART_MODE=none, endpoint-config and file_sd: helm upgrade rolls the controller, not Thanos; the kubelet updates the mounted file and Thanos follows',
    async () => {
      const c = ready();
      const { core, namespace, kubeConfig, route53, zone } = c;
      const thanosPods = await podNames(core, namespace, THANOS_LABEL);
      // file_sd beside it, following the same zone: a release and a Thanos Query of its own in another namespace.
      const fileSd = await createNamespace(c, 'tsd-node-file-sd');
      await createThanosQuery(c, fileSd, [
        '--store.sd-files=/etc/thanos/sd/servicediscovery.yml',
        `--store.sd-dns-interval=${RELOAD_SECONDS}s`,
      ]);
      const thanos = { ...(c.values['thanos'] as object), outputFormat: 'file_sd', restartMode: 'none' };
      await helmInstall(c, fileSd, { route53: { privateHostedZoneIds: [zone] }, thanos });
      await helmUpgrade(c, 'thanos.restartMode=none');
      expect(await podNames(core, namespace, THANOS_LABEL)).toEqual(thanosPods);
      await waitFor(
        () => thanosServes(core, fileSd, [A, B, C], new Set()),
        'the file_sd Thanos pods listing a, b and c',
        POD_TIMEOUT_MS,
        context,
      );
      const consumers = [
        { format: 'endpoint-config', namespace, pods: thanosPods },
        { format: 'file_sd', namespace: fileSd, pods: await podNames(core, fileSd, THANOS_LABEL) },
      ];

      type Sample = { route53ToConfigMapMs: number; configMapToFileMs: number[]; route53ToThanosMs: number };
      const samples: Record<string, Sample[]> = { 'endpoint-config': [], file_sd: [] };
      for (const [change, hosts] of [
        [
          () =>
            route53.deleteRecords(
              zone,
              aRecords([A, B, C]).filter((r) => r.name === C),
            ),
          [A, B],
        ],
        [() => route53.upsertRecords(zone, aRecords([A, B, C])), [A, B, C]],
      ] as const) {
        const changedAt = Date.now();
        await change();
        await Promise.all(
          consumers.map(async ({ format, namespace, pods }) => {
            const configMap = () => readConfigMap(kubeConfig, namespace);
            await waitFor(async () => lists(await configMap(), hosts), `the ${format} ConfigMap to follow`, 60_000, context);
            const configMapAt = Date.now();
            await waitFor(
              async () => {
                for (const pod of pods) if (!equal(await storesOf(core, namespace, pod), published(hosts))) return false;
                return true;
              },
              `both ${format} Thanos pods listing ${hosts.join(', ')} without a restart`,
              POD_TIMEOUT_MS,
              context,
            );
            const thanosAt = Date.now();
            const fileAt = await Promise.all(pods.map((pod) => lastFileChange(core, namespace, pod)));
            samples[format]?.push({
              route53ToConfigMapMs: configMapAt - changedAt,
              configMapToFileMs: fileAt.map((at) => at - configMapAt),
              route53ToThanosMs: thanosAt - changedAt,
            });
          }),
        );
      }
      for (const { namespace, pods } of consumers) expect(await podNames(core, namespace, THANOS_LABEL)).toEqual(pods);
      // The file_sd pair has been measured: it leaves the node to the next steps.
      expect(
        (await c.helm.run(['uninstall', RELEASE, '--namespace', fileSd, '--kubeconfig', c.node.controlPlane.kubeconfigPath])).code,
      ).toBe(0);
      await kubeConfig.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ name: THANOS_DEPLOYMENT, namespace: fileSd });
      const note = `test/cluster/chart.test.ts on ${new Date().toISOString()}, 2-core machine; kubelet v1.37.2 defaults (syncFrequency 1m, configMapAndSecretChangeDetectionStrategy Watch), controller POLL_INTERVAL_SECONDS=2, Thanos --endpoint.sd-config-reload-interval=${RELOAD_SECONDS}s (endpoint-config) or --store.sd-dns-interval=${RELOAD_SECONDS}s (file_sd)`;
      const results = await resultsPath('kubelet-latency.json');
      await writeFile(results, `${JSON.stringify({ note, samples }, null, 2)}\n`);
      process.stderr.write(`[cluster] RESTART_MODE=none: ${JSON.stringify(samples)}\n`);
    },
    2 * STEP_TIMEOUT_MS,
  );

  it(
    "the chart's memory limit is the container's cgroup limit; at rest no OOM kill",
    async () => {
      const { core, namespace } = ready();
      const [pod] = await livePods(core, namespace, CONTROLLER_LABEL);
      const limit = pod?.spec?.containers[0]?.resources?.limits?.memory;
      expect(limit).toBe('192Mi');
      const memory = await memoryCgroup(pod as V1Pod);
      expect(memory.limitBytes).toBe(192 * 1024 * 1024);
      expect(memory.oomKills).toBe(0);
      expect(pod?.status?.containerStatuses?.[0]?.restartCount).toBe(0);
      process.stderr.write(`[cluster] controller at rest: RSS ${mib(memory.rssBytes)} of a ${limit} limit\n`);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    `a soak at ${SOAK_RECORDS} records: a few minutes of polls stay under the chart's memory limit, no OOM kill`,
    async () => {
      const c = ready();
      const { core, kubeConfig, route53, helm } = c;
      const namespace = await createNamespace(c, 'tsd-node-soak');
      const zone = await route53.createPrivateZone(SOAK_ZONE);
      const hosts = Array.from({ length: SOAK_RECORDS }, (_, i) => `store-${String(i).padStart(5, '0')}-grpc.${SOAK_ZONE}`);
      const seedStarted = Date.now();
      await route53.upsertRecords(zone, aRecords(hosts));
      const seedMs = Date.now() - seedStarted;
      // A Deployment to roll whose pods never run: 10,000 stores are the controller's load here, not Thanos's.
      await createThanosDeployment(kubeConfig, namespace, THANOS_DEPLOYMENT, { replicas: 0 });
      // Route53's own quota (5 requests a second) rather than the chart's 2, for more polls in the same minutes.
      await helmInstall(c, namespace, { route53: { privateHostedZoneIds: [zone], maxRequestsPerSecond: 5 } });
      const kubeconfig = c.node.controlPlane.kubeconfigPath;
      try {
        let pod: V1Pod | undefined;
        await waitFor(
          async () => isReady((pod = (await livePods(core, namespace, CONTROLLER_LABEL))[0]) ?? {}),
          'the soak controller Ready',
          POD_TIMEOUT_MS,
          context,
        );
        const name = pod?.metadata?.name as string;
        const count = async () => (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY]?.split(`.${SOAK_ZONE}.:`).length ?? 1;
        await waitFor(async () => (await count()) - 1 === SOAK_RECORDS, `${SOAK_RECORDS} endpoints published`, POD_TIMEOUT_MS, context);
        const publishedMs = Date.now() - seedStarted - seedMs;
        const pollsBefore = (await controllerMetric(core, namespace, name, SUCCESSFUL_POLLS)) ?? 0;
        const rss: number[] = [];
        for (const end = Date.now() + SOAK_MS; Date.now() < end; await sleep(SOAK_SAMPLE_MS)) {
          rss.push((await memoryCgroup(pod as V1Pod)).rssBytes);
        }
        const polls = ((await controllerMetric(core, namespace, name, SUCCESSFUL_POLLS)) ?? 0) - pollsBefore;
        const after = (await livePods(core, namespace, CONTROLLER_LABEL))[0];
        const status = after?.status?.containerStatuses?.[0];
        const memory = await memoryCgroup(after as V1Pod);
        const limit = after?.spec?.containers[0]?.resources?.limits?.memory;
        process.stderr.write(
          `[cluster] soak at ${SOAK_RECORDS} records: seeded in ${seedMs} ms, published ${publishedMs} ms later; ${polls} polls in ${SOAK_MS / 1000} s; cgroup RSS ${mib(Math.min(...rss))} to ${mib(Math.max(...rss))}, at the end ${mib(memory.rssBytes)} (node VmRSS ${mib(memory.processRssBytes)} of which anonymous ${mib(memory.processRssAnonBytes)}, peak VmHWM ${mib(memory.processPeakRssBytes)}; cgroup peak usage with page cache ${mib(memory.maxUsageBytes)}) of a ${limit} limit\n`,
        );
        expect(after?.metadata?.name).toBe(name);
        expect(status?.restartCount).toBe(0);
        expect(status?.lastState?.terminated).toBeUndefined();
        expect(memory.oomKills).toBe(0);
        expect(memory.limitBytes).toBe(192 * 1024 * 1024);
        // Every poll read all 10,000 records and left the ConfigMap as it was.
        expect(polls).toBeGreaterThanOrEqual(3);
        expect((await count()) - 1).toBe(SOAK_RECORDS);
      } finally {
        const uninstall = await helm.run(['uninstall', RELEASE, '--namespace', namespace, '--kubeconfig', kubeconfig, '--wait']);
        expect(uninstall.code).toBe(0);
      }
    },
    2 * STEP_TIMEOUT_MS,
  );

  it(
    'kubectl delete pod: the kubelet records exit code 0, before the grace period would have ended it with SIGKILL',
    async () => {
      const { core, namespace, kubeConfig } = ready();
      const [pod] = await livePods(core, namespace, CONTROLLER_LABEL);
      const name = pod?.metadata?.name as string;
      let terminated: V1ContainerStateTerminated | undefined;
      let deletionTimestamp: Date | undefined;
      const watching = await new Watch(kubeConfig).watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { fieldSelector: `metadata.name=${name}` },
        (_type, object: V1Pod) => {
          deletionTimestamp ??= object.metadata?.deletionTimestamp;
          terminated ??= object.status?.containerStatuses?.[0]?.state?.terminated;
        },
        () => undefined,
      );
      try {
        await core.deleteNamespacedPod({ name, namespace });
        await waitFor(() => terminated !== undefined, 'the kubelet to record how the container ended', 60_000, context);
      } finally {
        watching.abort();
      }
      expect(terminated?.exitCode).toBe(0);
      expect(terminated?.reason).toBe('Completed');
      const grace = pod?.spec?.terminationGracePeriodSeconds ?? 30;
      // A watch hands back the objects as JSON: the times are RFC 3339 strings, to the second.
      const requested = Date.parse(String(deletionTimestamp)) - grace * 1000;
      process.stderr.write(
        `[cluster] SIGTERM to exit: ${(Date.parse(String(terminated?.finishedAt)) - requested) / 1000} s of a ${grace} s grace period\n`,
      );
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'helm uninstall: the controller goes, its ConfigMap and Lease stay and Thanos keeps serving the last list without a restart',
    async () => {
      const { core, namespace, kubeConfig, helm, node } = ready();
      const thanosPods = await podNames(core, namespace, THANOS_LABEL);
      const before = await readConfigMap(kubeConfig, namespace);
      const uninstall = await helm.run([
        'uninstall',
        RELEASE,
        '--namespace',
        namespace,
        '--kubeconfig',
        node.controlPlane.kubeconfigPath,
        '--wait',
      ]);
      expect(uninstall.code).toBe(0);
      await waitFor(
        async () => (await livePods(core, namespace, CONTROLLER_LABEL)).length === 0,
        'the controller pods gone',
        POD_TIMEOUT_MS,
        context,
      );
      expect((await readConfigMap(kubeConfig, namespace))?.data).toEqual(before?.data);
      expect(await podNames(core, namespace, THANOS_LABEL)).toEqual(thanosPods);
      for (const pod of thanosPods) expect(await storesOf(core, namespace, pod)).toEqual(published([A, B, C]));
      // What helm does not own stays: the ConfigMap (above), the hash annotation of the last rollout in Thanos's pod
      // template, and the Lease. helm deletes the Role with the Deployment, before the pods stop: the leader's
      // hand-back is refused (403, logged) and the Lease expires after 15 s.
      const lease = await kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace });
      expect(lease.metadata?.name).toBe(LEASE);
      expect(templateHash(await readDeployment(kubeConfig, namespace))).toMatch(/\S/);
    },
    STEP_TIMEOUT_MS,
  );
});
