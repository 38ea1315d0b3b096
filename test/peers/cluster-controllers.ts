import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { resolvePeerBinaries } from './binaries.ts';
import type { ControlPlane } from './control-plane.ts';
import { startPeerProcess, type PeerProcess, type WrapCommand } from './peer-process.ts';

/** The node kwok keeps Ready; pods name it in `spec.nodeName`, since no scheduler runs. */
export const FAKE_NODE = 'kwok-node-0';
const MANAGED_LABEL = 'tsd.test/kwok';

/**
 * What makes a Deployment roll for real without a kubelet: kube-controller-manager (same Kubernetes build as the API
 * server) running the Deployment and ReplicaSet controllers, and kwok, which plays the kubelet of one fake node:
 * it marks the node Ready, and each pod bound to it Running and Ready, and finishes pod deletions.
 */
export interface ClusterControllers {
  stop(): Promise<void>;
  logTail(): string;
}

/**
 * kube-controller-manager running `controllers` against the control plane, its log in the control plane's dir;
 * `wrap` rewrites its command line (e.g. to start it in a network namespace).
 */
export function startControllerManager(
  controlPlane: ControlPlane,
  binary: string,
  options: { controllers: readonly string[]; extraArgs?: readonly string[]; wrap?: WrapCommand },
): PeerProcess {
  const args = [
    `--kubeconfig=${controlPlane.kubeconfigPath}`,
    `--controllers=${options.controllers.join(',')}`,
    '--leader-elect=false',
    '--secure-port=0',
    '--kube-api-qps=100',
    '--kube-api-burst=200',
    ...(options.extraArgs ?? []),
  ];
  return startPeerProcess({
    peer: 'kube-controller-manager',
    ...(options.wrap?.(binary, args) ?? { command: binary, args }),
    logPath: join(controlPlane.dir, 'kube-controller-manager.log'),
  });
}

export async function startClusterControllers(controlPlane: ControlPlane): Promise<ClusterControllers> {
  const binaries = await resolvePeerBinaries(['kube-controller-manager', 'kwok']);
  const kubeconfig = controlPlane.kubeconfigPath;
  const core = controlPlane.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNode({
    body: {
      metadata: { name: FAKE_NODE, labels: { [MANAGED_LABEL]: 'true', type: 'kwok' }, annotations: { 'kwok.x-k8s.io/node': 'fake' } },
    },
  });
  const processes: PeerProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((proc) => proc.stop()));
  };
  try {
    processes.push(
      startControllerManager(controlPlane, binaries['kube-controller-manager'], {
        controllers: ['deployment-controller', 'replicaset-controller'],
      }),
      startPeerProcess({
        peer: 'kwok',
        command: binaries.kwok,
        args: [
          `--kubeconfig=${kubeconfig}`,
          `--config=${binaries.kwok}-stages.yaml`,
          '--manage-all-nodes=false',
          `--manage-nodes-with-label-selector=${MANAGED_LABEL}=true`,
          '--cidr=10.244.0.0/16',
          '--node-ip=10.0.0.10',
        ],
        logPath: join(controlPlane.dir, 'kwok.log'),
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    stop,
    logTail: () => processes.map((proc) => `${proc.peer}, last log lines:\n${proc.logTail(15)}`).join('\n'),
  };
}
