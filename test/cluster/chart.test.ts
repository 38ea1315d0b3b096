// The chart, the project's image and Thanos Query as pods under a real kubelet (issue 17). Each step asserts what a
// user would check with kubectl: pod readiness through the kubelet's probes, logs, the objects' status, and what each
// Thanos Query pod serves (read through the API server's pod proxy, as `kubectl get --raw` would).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  Watch,
  type KubeConfig,
  type V1ConfigMap,
  type V1ContainerStateTerminated,
  type V1Pod,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startMoto, type Moto } from '../peers/moto.ts';
import { startNode, type Node } from '../peers/node.ts';
import { exportProjectImage } from '../peers/project-image.ts';
import { route53Fixture, TEST_AWS_CREDENTIALS, type Route53Fixture } from '../peers/route53-fixture.ts';
import { startThanosStore, type ListedStore, type ThanosStore } from '../peers/thanos.ts';
import { aRecords } from '../support/scenario.ts';
import { createThanosDeployment, readConfigMap, SD_KEY, THANOS_CONFIGMAP, THANOS_DEPLOYMENT } from '../support/thanos.ts';
import { CHART, createHelm, PEER_BUILD_TIMEOUT_MS, type Helm } from '../support/tools.ts';
import { waitFor } from '../support/wait.ts';

const ZONE = 'internal.example.com';
const [A, B, C] = ['a', 'b', 'c'].map((cluster) => `cluster-${cluster}-grpc.${ZONE}`) as [string, string, string];
const STORE_PORT = 10901;
const QUERY_HTTP_PORT = 10902;
const RELEASE = 'tsd';
const CONTROLLER_LABEL = 'app.kubernetes.io/name=thanos-store-discovery';
const THANOS_LABEL = 'app.kubernetes.io/name=thanos-query';
const STEP_TIMEOUT_MS = 300_000;
const POD_TIMEOUT_MS = 180_000;
const RELOAD_SECONDS = 2;
const RESULTS = new URL('../../bench/results/kubelet-latency.json', import.meta.url);
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
}

const isReady = (pod: V1Pod): boolean => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

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
    const namespace = await controlPlane.createNamespace('tsd-node-chart');
    cluster.namespace = namespace;
    const core = cluster.core;
    await waitFor(
      async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace })) !== undefined,
      'the default ServiceAccount',
    );

    await createThanosDeployment(cluster.kubeConfig, namespace, THANOS_DEPLOYMENT, {
      container: {
        image: node.thanosImage,
        imagePullPolicy: 'Never',
        args: [
          'query',
          `--http-address=0.0.0.0:${QUERY_HTTP_PORT}`,
          '--grpc-address=0.0.0.0:10901',
          '--endpoint.sd-config-file=/etc/thanos/sd/servicediscovery.yml',
          // Read again every 2 s, as RESTART_MODE=none needs (the default 5m is slower than the 2 s poll).
          `--endpoint.sd-config-reload-interval=${RELOAD_SECONDS}s`,
        ],
        ports: [{ name: 'http', containerPort: QUERY_HTTP_PORT }],
        readinessProbe: { httpGet: { path: '/-/ready', port: QUERY_HTTP_PORT }, periodSeconds: 2 },
        securityContext: { runAsUser: 1001, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
      },
      sidecars: [{ ...FILE_WATCHER, image: node.thanosImage, imagePullPolicy: 'Never' }],
      pod: {
        hostAliases: cluster.stores.map((store, i) => ({
          ip: store.grpcAddress.split(':')[0] as string,
          hostnames: [[A, B, C][i] as string],
        })),
        // Not optional: with endpoint-config, Thanos exits on a missing file; the pods wait for the controller's.
        volumes: [{ name: 'sd', configMap: { name: THANOS_CONFIGMAP } }],
      },
    });

    const valuesPath = join(host.dir, 'values.yaml');
    const version = image.reference.slice(image.reference.lastIndexOf(':') + 1);
    await writeFile(
      valuesPath,
      stringify({
        image: { repository: image.reference.slice(0, image.reference.lastIndexOf(':')), tag: version, pullPolicy: 'Never' },
        route53: { privateHostedZoneIds: [cluster.zone] },
        aws: { route53EndpointUrl: cluster.moto.endpoint },
        thanos: { deploymentName: THANOS_DEPLOYMENT, configMapName: THANOS_CONFIGMAP },
        controller: { pollIntervalSeconds: 2 },
        safety: { restartMinIntervalSeconds: 0 },
        delivery: { queryUrl: `http://${THANOS_DEPLOYMENT}:${QUERY_HTTP_PORT}`, checkIntervalSeconds: 5 },
        extraEnv: [
          // No kube-proxy runs: the in-cluster client reaches the API server at the node's address instead of the
          // `kubernetes` Service's ClusterIP. It still authenticates with the pod's projected token.
          { name: 'KUBERNETES_SERVICE_HOST', value: host.nodeAddress },
          { name: 'KUBERNETES_SERVICE_PORT', value: new URL(controlPlane.server).port },
          { name: 'AWS_ACCESS_KEY_ID', value: TEST_AWS_CREDENTIALS.accessKeyId },
          { name: 'AWS_SECRET_ACCESS_KEY', value: TEST_AWS_CREDENTIALS.secretAccessKey },
        ],
      }),
    );
    const install = await cluster.helm.run([
      'install',
      RELEASE,
      CHART,
      '--namespace',
      namespace,
      '--kubeconfig',
      controlPlane.kubeconfigPath,
      '-f',
      valuesPath,
    ]);
    if (install.code !== 0) throw new Error(`helm install failed (${install.code}):\n${install.stderr}`);
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
      const thanosServes = async (hosts: readonly string[], after: Set<string>): Promise<boolean> => {
        const pods = await livePods(core, namespace, THANOS_LABEL);
        if (pods.length !== 2 || !pods.every(isReady) || pods.some((p) => after.has(p.metadata?.name as string))) return false;
        for (const pod of pods) {
          expect(await storesOf(core, namespace, pod.metadata?.name as string)).toEqual(published(hosts));
        }
        return true;
      };
      const names = async () => new Set((await livePods(core, namespace, THANOS_LABEL)).map((p) => p.metadata?.name as string));
      const deliveredAt = async (): Promise<number> => {
        const [controller] = await livePods(core, namespace, CONTROLLER_LABEL);
        const name = controller?.metadata?.name as string;
        if ((await controllerMetric(core, namespace, name, 'thanos_store_discovery_delivery_endpoints{state="unhealthy"}')) !== 0) return 0;
        return (await controllerMetric(core, namespace, name, 'thanos_store_discovery_delivery_last_match_timestamp_seconds')) ?? 0;
      };

      await waitFor(() => thanosServes([A, B], new Set()), 'both Thanos pods listing a and b', POD_TIMEOUT_MS, context);
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
        const before = await names();
        const changedAt = Date.now() / 1000;
        await change();
        await waitFor(async () => lists(await readConfigMap(kubeConfig, namespace), hosts), 'the ConfigMap to follow', 60_000, context);
        await waitFor(() => thanosServes(hosts, before), `two new Thanos pods listing ${hosts.join(', ')}`, POD_TIMEOUT_MS, context);
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
    'RESTART_MODE=none: helm upgrade rolls the controller, not Thanos; the kubelet updates the mounted file and Thanos follows',
    async () => {
      const { core, namespace, kubeConfig, route53, zone, helm, node } = ready();
      const podNames = async (selector: string) =>
        (await livePods(core, namespace, selector)).map((p) => p.metadata?.name as string).sort();
      const thanosPods = await podNames(THANOS_LABEL);
      const [controllerBefore] = await podNames(CONTROLLER_LABEL);
      const upgrade = await helm.run([
        'upgrade',
        RELEASE,
        CHART,
        '--namespace',
        namespace,
        '--kubeconfig',
        node.controlPlane.kubeconfigPath,
        '--reuse-values',
        '--set',
        'thanos.restartMode=none',
      ]);
      expect(upgrade.stderr).toBe('');
      expect(upgrade.code).toBe(0);
      await waitFor(
        async () => {
          const pods = await livePods(core, namespace, CONTROLLER_LABEL);
          return pods.length === 1 && pods[0]?.metadata?.name !== controllerBefore && isReady(pods[0] as V1Pod);
        },
        'the upgraded controller pod Ready',
        POD_TIMEOUT_MS,
        context,
      );
      expect(await podNames(THANOS_LABEL)).toEqual(thanosPods);

      const samples: { route53ToConfigMapMs: number; configMapToFileMs: number[]; route53ToThanosMs: number }[] = [];
      for (const [change, hosts] of [
        [() => route53.upsertRecords(zone, aRecords([A, B, C])), [A, B, C]],
        [
          () =>
            route53.deleteRecords(
              zone,
              aRecords([A, B, C]).filter((r) => r.name === C),
            ),
          [A, B],
        ],
      ] as const) {
        const changedAt = Date.now();
        await change();
        await waitFor(async () => lists(await readConfigMap(kubeConfig, namespace), hosts), 'the ConfigMap to follow', 60_000, context);
        const configMapAt = Date.now();
        await waitFor(
          async () => {
            for (const pod of thanosPods) if (!equal(await storesOf(core, namespace, pod), published(hosts))) return false;
            return true;
          },
          `both Thanos pods listing ${hosts.join(', ')} without a restart`,
          POD_TIMEOUT_MS,
          context,
        );
        const thanosAt = Date.now();
        const fileAt = await Promise.all(thanosPods.map((pod) => lastFileChange(core, namespace, pod)));
        samples.push({
          route53ToConfigMapMs: configMapAt - changedAt,
          configMapToFileMs: fileAt.map((at) => at - configMapAt),
          route53ToThanosMs: thanosAt - changedAt,
        });
      }
      expect(await podNames(THANOS_LABEL)).toEqual(thanosPods);
      const note = `test/cluster/chart.test.ts on ${new Date().toISOString()}, 2-core machine; kubelet v1.37.2 defaults (syncFrequency 1m, configMapAndSecretChangeDetectionStrategy Watch), controller POLL_INTERVAL_SECONDS=2, Thanos --endpoint.sd-config-reload-interval=${RELOAD_SECONDS}s`;
      await writeFile(RESULTS, `${JSON.stringify({ note, samples }, null, 2)}\n`);
      process.stderr.write(`[cluster] RESTART_MODE=none: ${JSON.stringify(samples)}\n`);
    },
    2 * STEP_TIMEOUT_MS,
  );

  it(
    "the chart's memory limit is the container's cgroup limit; at rest no OOM kill",
    async () => {
      const { core, namespace } = ready();
      const [pod] = await livePods(core, namespace, CONTROLLER_LABEL);
      const status = pod?.status?.containerStatuses?.[0];
      // containerd names the container's v1 memory cgroup after its id (the kubelet runs without QoS cgroups here).
      const cgroup = `/sys/fs/cgroup/memory/k8s.io/${status?.containerID?.replace(/^containerd:\/\//, '')}`;
      const limit = pod?.spec?.containers[0]?.resources?.limits?.memory;
      expect(limit).toBe('192Mi');
      expect(Number(await readFile(join(cgroup, 'memory.limit_in_bytes'), 'utf8'))).toBe(192 * 1024 * 1024);
      expect(await readFile(join(cgroup, 'memory.oom_control'), 'utf8')).toMatch(/^oom_kill 0$/m);
      expect(status?.restartCount).toBe(0);
      const rss = /^total_rss (\d+)$/m.exec(await readFile(join(cgroup, 'memory.stat'), 'utf8'))?.[1];
      process.stderr.write(`[cluster] controller at rest: RSS ${(Number(rss) / 2 ** 20).toFixed(1)} MiB of a ${limit} limit\n`);
    },
    STEP_TIMEOUT_MS,
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
    'helm uninstall: the controller goes, its ConfigMap stays and Thanos keeps serving the last list without a restart',
    async () => {
      const { core, namespace, kubeConfig, helm, node } = ready();
      const thanosPods = (await livePods(core, namespace, THANOS_LABEL)).map((p) => p.metadata?.name as string).sort();
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
        'the controller pod gone',
        POD_TIMEOUT_MS,
        context,
      );
      expect((await readConfigMap(kubeConfig, namespace))?.data).toEqual(before?.data);
      expect((await livePods(core, namespace, THANOS_LABEL)).map((p) => p.metadata?.name as string).sort()).toEqual(thanosPods);
      for (const pod of thanosPods) expect(await storesOf(core, namespace, pod)).toEqual(published([A, B]));
    },
    STEP_TIMEOUT_MS,
  );
});
