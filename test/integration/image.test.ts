// The image `npm run image` builds, run by podman as the chart runs it: the chart's user, read-only root, /tmp the
// only writable path, its args and env, in-cluster auth through a mounted ServiceAccount token, on the host network
// against the real peers. (The bases are this machine's stand-ins: see the README.)
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, type V1PodSpec } from '@kubernetes/client-node';
import { freePort } from '../peers/ports.ts';
import { TEST_AWS_CREDENTIALS, TEST_AWS_REGION } from '../peers/route53-fixture.ts';
import { buildImage, chartPodFlags, envFlags, IMAGE_BUILD_TIMEOUT_MS, logTail, podman, podmanOk } from '../support/container.ts';
import { aRecords, expectedHash, scenarioSuite } from '../support/scenario.ts';
import {
  expectedFileSd,
  readConfigMap,
  readDeployment,
  SD_KEY,
  templateHash,
  THANOS_CONFIGMAP,
  THANOS_DEPLOYMENT,
} from '../support/thanos.ts';
import { chartInstallArgs, helmForTests } from '../support/tools.ts';
import { waitFor } from '../support/wait.ts';

const RELEASE = 'tsd';
const CHART_DEPLOYMENT = 'tsd-thanos-store-discovery';
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
// Kubernetes' default grace is 30 s; the issue asks for an exit within 2 s. podman sends SIGKILL after it (exit 137).
const STOP_GRACE_SECONDS = '2';
// Longer than the whole test waits for it: the request is still unanswered when the container is stopped.
const HELD_MS = 60_000;
const CACHE_ACCEPTED = 'V8 code cache for ESM file:///app/main.mjs was accepted';

describe('the image, run as the chart runs it', () => {
  const suite = scenarioSuite('image');
  const helm = helmForTests();
  let image: string;
  let dir: string;
  let containers: string[] = [];

  beforeAll(async () => {
    image = await buildImage();
  }, IMAGE_BUILD_TIMEOUT_MS);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsd-image-'));
  });
  afterEach(async () => {
    await Promise.all(containers.map((id) => podman(['rm', '--force', '--time', '0', id])));
    containers = [];
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A namespace holding the Thanos Deployment, the chart installed for it (its ServiceAccount, Role and Deployment,
   * which no kubelet runs here) and a zone with `hosts`; then the chart's pod, as a container.
   */
  async function chartPod(prefix: string, hosts: readonly string[]) {
    const { kubeConfig, namespace, zone, deployment } = await suite.prepare({ prefix, records: aRecords(hosts) });
    const { controlPlane, proxy } = suite.peers;
    const installed = await helm.run(
      chartInstallArgs(
        RELEASE,
        namespace,
        controlPlane.kubeconfigPath,
        '--set',
        `route53.privateHostedZoneIds={${zone}}`,
        '--set',
        `thanos.configMapName=${THANOS_CONFIGMAP}`,
        '--set',
        `thanos.deploymentName=${THANOS_DEPLOYMENT}`,
        // The Thanos Deployment of these tests reads file_sd (--store.sd-files).
        '--set',
        'thanos.outputFormat=file_sd',
      ),
    );
    if (installed.code !== 0) throw new Error(`helm install failed (${installed.code}):\n${installed.stderr}`);
    const pod = (await kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace, name: CHART_DEPLOYMENT })).spec?.template
      .spec as V1PodSpec;
    const container = pod.containers[0]!;

    // What the kubelet mounts for the pod's ServiceAccount: a token, the cluster's CA and the namespace.
    const secrets = join(dir, 'serviceaccount');
    const { status } = await kubeConfig.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      namespace,
      name: pod.serviceAccountName!,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    await mkdir(secrets);
    await writeFile(join(secrets, 'token'), status!.token!);
    await writeFile(join(secrets, 'ca.crt'), Buffer.from(kubeConfig.getCurrentCluster()!.caData!, 'base64'));
    await writeFile(join(secrets, 'namespace'), namespace);

    const port = await freePort();
    const server = new URL(controlPlane.server);
    const env: Record<string, string> = {
      ...Object.fromEntries((container.env ?? []).flatMap((v) => (v.value === undefined ? [] : [[v.name, v.value]]))),
      KUBERNETES_SERVICE_HOST: server.hostname,
      KUBERNETES_SERVICE_PORT: server.port,
      // Host network: a port of its own rather than the chart's :8080.
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
      AWS_ENDPOINT_URL_ROUTE_53: proxy.url,
      AWS_REGION: TEST_AWS_REGION,
      AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
      NODE_DEBUG_NATIVE: 'COMPILE_CACHE',
    };
    const run = async (extra: Record<string, string> = {}) => {
      const name = `tsd-image-test-${randomBytes(4).toString('hex')}`;
      containers.push(name);
      await podmanOk([
        'run',
        '--detach',
        '--name',
        name,
        ...chartPodFlags(pod),
        '--volume',
        `${secrets}:${SERVICE_ACCOUNT_DIR}:ro`,
        ...envFlags({ ...env, ...extra }),
        image,
        ...(container.args ?? []),
      ]);
      return name;
    };
    return { kubeConfig, namespace, deployment, url: `http://127.0.0.1:${port}`, run };
  }

  const logsOf = async (name: string) => {
    const result = await podman(['logs', name]);
    return result.stdout + result.stderr;
  };
  /** Stops the container as the kubelet does (SIGTERM, SIGKILL after the grace period) and returns its exit code. */
  const stop = async (name: string) => {
    await podmanOk(['stop', '--time', STOP_GRACE_SECONDS, name]);
    return Number(await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', name]));
  };

  it('without configuration exits 2, naming every missing variable', async () => {
    const result = await podman(['run', '--rm', image]);
    expect(result.code).toBe(2);
    for (const name of ['PRIVATE_HOSTED_ZONE_ID', 'THANOS_NAMESPACE', 'THANOS_DEPLOYMENT_NAME', 'THANOS_CONFIGMAP_NAME']) {
      expect(result.stderr).toMatch(new RegExp(`^config error: ${name} is required`, 'm'));
    }
  });

  it("as a non-root user on a read-only root, with the chart's Role and in-cluster auth: converges, serves its probes, uses its compile cache and stops on SIGTERM with 0", async () => {
    const hosts = ['cluster-a-grpc.image.internal.example.com', 'cluster-b-grpc.image.internal.example.com'];
    const { kubeConfig, namespace, url, run } = await chartPod('image', hosts);
    const name = await run();

    await waitFor(
      async () =>
        (await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] === expectedFileSd(hosts) &&
        templateHash(await readDeployment(kubeConfig, namespace)) === expectedHash(hosts),
      'the ConfigMap written and the Deployment annotated',
      60_000,
      () => logTail(name),
    );
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      await waitFor(
        async () => (await fetch(`${url}${path}`)).status === 200,
        `${path} to answer 200`,
        30_000,
        () => logTail(name),
      );
    }
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^thanos_store_discovery_endpoints 2$/m);

    // The kernel's view of the running process: the chart's uid, and its root filesystem mounted read-only.
    const pid = await podmanOk(['inspect', '--format', '{{.State.Pid}}', name]);
    expect(await readFile(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    const root = (await readFile(`/proc/${pid}/mountinfo`, 'utf8')).split('\n').find((line) => line.split(' ')[4] === '/');
    expect(root?.split(' ')[5]?.split(',')).toContain('ro');
    // Node's own diagnostics: the bundle's compiled code came from the image's cache.
    expect(await logsOf(name)).toContain(CACHE_ACCEPTED);

    expect(await stop(name)).toBe(0);
    expect(await logsOf(name)).toMatch(/"message":"stopped"/);
  });

  it('RUN_ONCE: SIGTERM while a Route53 request has not answered exits 0 and writes nothing', async () => {
    const hosts = ['cluster-a-grpc.image-once.internal.example.com'];
    const { kubeConfig, namespace, deployment, run } = await chartPod('image-once', hosts);
    const { proxy } = suite.peers;
    proxy.inject('slow', { delayMs: HELD_MS, times: 1 });
    const name = await run({ RUN_ONCE: 'true' });
    await waitFor(
      () => proxy.faultedBy('slow') === 1,
      'the Route53 request to be held',
      30_000,
      () => logTail(name),
    );
    const forwarded = proxy.forwarded;

    expect(await stop(name)).toBe(0);
    expect(proxy.forwarded).toBe(forwarded);
    expect(await readConfigMap(kubeConfig, namespace)).toBeUndefined();
    expect((await readDeployment(kubeConfig, namespace))?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
  });
});
