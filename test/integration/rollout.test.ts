// A real rollout: kube-controller-manager turns the controller's pod-template patch into a new ReplicaSet and kwok
// makes the pods Ready, so a RollingUpdate completes. Exactly one new ReplicaSet revision per endpoint-set change;
// none for adoption, drift, reorder, format-only or duplicate-record changes.
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { FAKE_NODE, startClusterControllers, type ClusterControllers } from '../peers/cluster-controllers.ts';
import { aRecords, logTail, scenarioSuite, successfulPolls, waitForPolls } from '../support/scenario.ts';
import {
  createThanosDeployment,
  expectedFileSd,
  readConfigMap,
  readDeployment,
  SD_KEY,
  THANOS_CONFIGMAP,
  THANOS_DEPLOYMENT,
} from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';

const A = 'cluster-a-grpc.internal.example.com';
const B = 'cluster-b-grpc.internal.example.com';
const C = 'cluster-c-grpc.internal.example.com';
const REVISION = 'deployment.kubernetes.io/revision';

/** The revisions of the Deployment's ReplicaSets, ascending. */
async function revisions(kubeConfig: KubeConfig, namespace: string): Promise<number[]> {
  const { items } = await kubeConfig.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace });
  return items
    .filter((rs) => rs.metadata?.ownerReferences?.some((owner) => owner.kind === 'Deployment' && owner.name === THANOS_DEPLOYMENT))
    .map((rs) => Number(rs.metadata?.annotations?.[REVISION]))
    .sort((x, y) => x - y);
}

/** Every replica updated and available, and the old ones gone: what `kubectl rollout status` waits for. */
function rolledOut(deployment: V1Deployment | undefined): boolean {
  const wanted = deployment?.spec?.replicas ?? 1;
  const status = deployment?.status;
  return (
    status !== undefined &&
    (status.observedGeneration ?? 0) >= (deployment?.metadata?.generation ?? 1) &&
    status.updatedReplicas === wanted &&
    status.availableReplicas === wanted &&
    status.replicas === wanted
  );
}

async function readyPods(kubeConfig: KubeConfig, namespace: string): Promise<number> {
  const { items } = await kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace });
  const live = items.filter((pod) => pod.metadata?.deletionTimestamp === undefined);
  return live.filter((pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
}

describe('a real rollout with kube-controller-manager and kwok', () => {
  const suite = scenarioSuite('rollout');
  let controllers: ClusterControllers;

  beforeAll(async () => {
    controllers = await startClusterControllers(suite.peers.controlPlane);
  });
  afterAll(async () => {
    await controllers?.stop();
  });

  it(
    'one new ReplicaSet revision per endpoint-set change, none for anything else',
    suite.logged(async () => {
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'rollout', records: aRecords([A, B]), deployment: false });
      const context = () => controllers.logTail();
      const core = kubeConfig.makeApiClient(CoreV1Api);
      // Adoption: the older tool's ConfigMap for {a, b}, unsorted, with duplicates and no final newline.
      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: THANOS_CONFIGMAP }, data: { [SD_KEY]: `- targets:\n  - ${B}.:10901\n  - ${A}.:10901\n  - ${A}.:10901` } },
      });
      await createThanosDeployment(kubeConfig, namespace, THANOS_DEPLOYMENT, { nodeName: FAKE_NODE });
      const complete = async () => rolledOut(await readDeployment(kubeConfig, namespace));
      await waitFor(complete, 'the first rollout (revision 1) to complete', 60_000, context);
      expect(await revisions(kubeConfig, namespace)).toEqual([1]);
      expect(await readyPods(kubeConfig, namespace)).toBe(2);

      const running = await suite.startController(namespace, [zone]);
      const both = () => `${logTail(running)()}\n${context()}`;
      await waitFor(async () => (await successfulPolls(running)) > 0, 'the first poll', 30_000, both);
      const quietFor = async (polls: number) => {
        await waitForPolls(running, polls);
        await waitFor(complete, 'the Deployment to be rolled out', 60_000, both);
      };
      await quietFor(3);
      expect(await revisions(kubeConfig, namespace)).toEqual([1]);

      // An endpoint-set change: one new revision, rolled out to the end.
      await suite.peers.route53.upsertRecords(zone, aRecords([A, B, C]).slice(2));
      await waitFor(async () => (await revisions(kubeConfig, namespace)).length === 2, 'revision 2', 30_000, both);
      await waitFor(complete, 'revision 2 to roll out', 60_000, both);
      expect(await readyPods(kubeConfig, namespace)).toBe(2);

      // A duplicate record: an AAAA of a name already published.
      await suite.peers.route53.upsertRecords(zone, [{ name: C, type: 'AAAA', value: 'fd00::c' }]);
      await quietFor(3);
      // Drift: a hand edit drops b; the repair restores it without a restart.
      const published = () => readConfigMap(kubeConfig, namespace);
      const drifted = (await published())!;
      await core.replaceNamespacedConfigMap({
        namespace,
        name: THANOS_CONFIGMAP,
        body: { ...drifted, data: { [SD_KEY]: expectedFileSd([A, C]) } },
      });
      await waitFor(async () => (await published())?.data?.[SD_KEY] === expectedFileSd([A, B, C]), 'the drift repair', 15_000, both);
      // A reorder by hand: the same set, so no write and no restart.
      const reordered = (await published())!;
      await core.replaceNamespacedConfigMap({
        namespace,
        name: THANOS_CONFIGMAP,
        body: { ...reordered, data: { [SD_KEY]: `- targets:\n  - ${C}:10901\n  - ${B}.:10901\n  - ${A}:10901\n` } },
      });
      await quietFor(3);
      expect(await revisions(kubeConfig, namespace)).toEqual([1, 2]);

      // Format only: the same set written as endpoint-config.
      await running.stop();
      const endpointConfig = await suite.startController(namespace, [zone], { OUTPUT_FORMAT: 'endpoint-config' });
      await waitFor(async () => (await successfulPolls(endpointConfig)) > 0, 'the first poll', 30_000, logTail(endpointConfig));
      await waitFor(
        async () => (await published())?.data?.[SD_KEY]?.startsWith('endpoints:') === true,
        'the endpoint-config text',
        30_000,
        logTail(endpointConfig),
      );
      await waitForPolls(endpointConfig, 3);
      expect(await revisions(kubeConfig, namespace)).toEqual([1, 2]);

      // A removal: one more revision.
      await suite.peers.route53.deleteRecords(zone, aRecords([A]));
      await waitFor(async () => (await revisions(kubeConfig, namespace)).length === 3, 'revision 3', 30_000, logTail(endpointConfig));
      await waitFor(complete, 'revision 3 to roll out', 60_000, logTail(endpointConfig));
      await waitForPolls(endpointConfig, 3);
      expect(await revisions(kubeConfig, namespace)).toEqual([1, 2, 3]);
      expect(await readyPods(kubeConfig, namespace)).toBe(2);
    }),
    300_000,
  );
});
