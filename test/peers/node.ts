import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { resolvePeerOutputs } from './binaries.ts';
import { startControllerManager } from './cluster-controllers.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { createNodeHost, type NodeHost } from './node-host.ts';
import { PeerError } from './peer-error.ts';
import { startPeerProcess, waitUntilReady, type PeerProcess } from './peer-process.ts';

const run = promisify(execFile);
const CONTAINERD_READY_TIMEOUT_MS = 30_000;
const NODE_READY_TIMEOUT_MS = 120_000;
const KUBELET_PORT = 10250;
// What Deployments, ServiceAccounts (and so projected tokens), the API server's CA in every namespace, garbage
// collection, PodDisruptionBudget status and the node's not-ready taint need; nothing a one-node test does not use.
const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'serviceaccount-controller',
  'root-ca-certificate-publisher-controller',
  'garbage-collector-controller',
  'disruption-controller',
  'node-lifecycle-controller',
];

/** An image made here, as build.sh prints it: `<reference>=<OCI archive>`. */
export interface NodeImage {
  reference: string;
  archive: string;
}

function parseImage(printed: string | undefined, peer: string): NodeImage {
  const at = printed?.indexOf('=') ?? -1;
  if (printed === undefined || at < 1) throw new PeerError(peer, `build.sh printed no image for it (${printed})`);
  return { reference: printed.slice(0, at), archive: printed.slice(at + 1) };
}

/**
 * A one-node cluster with a real kubelet: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd
 * (runc, the CNI bridge plugin) and the kubelet, all in a NodeHost (network namespace and cgroup of the run's own).
 * The test process reaches the API server, the kubelet and the extra addresses over the host's veth.
 */
export interface Node {
  readonly name: string;
  readonly host: NodeHost;
  readonly controlPlane: ControlPlane;
  /** The Thanos image made here from the built binary, imported into the node. */
  readonly thanosImage: string;
  /** Imports an OCI or docker archive into the node's containerd, for pods to run with `imagePullPolicy: Never`. */
  importImage(archive: string): Promise<void>;
  /** The end of each peer's log, for a failing test's message. */
  logTail(): string;
  /** Stops every peer, then removes the pods' processes, mounts, cgroups, the namespace and the files. */
  stop(): Promise<void>;
}

function containerdConfig(dir: string, pauseImage: string, cniBin: string, runc: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${join(dir, 'containerd', 'root')}"
state = "${join(dir, 'containerd', 'state')}"
[grpc]
  address = "${join(dir, 'containerd.sock')}"
[ttrpc]
  address = "${join(dir, 'containerd.sock.ttrpc')}"
[${cri}]
  sandbox_image = "${pauseImage}"
  # The sandbox lacks CAP_SYS_RESOURCE: without this, a pod sandbox's oom_score_adj of -998 fails its start.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
[${cri}.containerd]
  snapshotter = "overlayfs"
[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = "${runc}"
[${cri}.cni]
  bin_dir = "${cniBin}"
  conf_dir = "${join(dir, 'cni')}"
`;
}

function kubeletConfig(host: NodeHost, socket: string): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // The machine has cgroup v1 (hybrid); kubelet 1.37 refuses it unless told not to.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupsPerQOS: false,
    cgroupRoot: host.cgroup,
    enforceNodeAllocatable: [],
    containerRuntimeEndpoint: `unix://${socket}`,
    failSwapOn: false,
    makeIPTablesUtilChains: false,
    resolvConf: '',
    evictionHard: {},
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    protectKernelDefaults: false,
    address: host.nodeAddress,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    podLogsDir: join(host.dir, 'pod-logs'),
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
  };
}

function cniConfig(host: NodeHost): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: host.name,
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        // No masquerading and no route out: pods reach only the node's namespace (the network rule of the tests).
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: join(host.dir, 'cni-ipam'),
          ranges: [[{ subnet: host.podSubnet }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'loopback' },
    ],
  };
}

async function nodeReady(core: CoreV1Api, name: string): Promise<boolean> {
  const node = await core.readNode({ name });
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

export async function startNode(): Promise<Node> {
  const outputs = await resolvePeerOutputs([
    'etcd',
    'kube-apiserver',
    'kube-controller-manager',
    'kube-scheduler',
    'kubelet',
    'node-runtime',
    'node-images',
  ]);
  const binary = (key: string): string => outputs.get(key) as string;
  const pause = parseImage(outputs.get('pause-image'), 'node-images');
  const thanos = parseImage(outputs.get('thanos-image'), 'node-images');
  const host = await createNodeHost();
  const processes: PeerProcess[] = [];
  let controlPlane: ControlPlane | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // The kubelet first, so it restarts nothing; then the runtime, the controllers and the control plane.
    for (const proc of [...processes].reverse()) await proc.stop();
    await controlPlane?.stop();
    await host.remove();
  };
  const start = (peer: string, command: string, args: readonly string[]): PeerProcess => {
    const proc = startPeerProcess({ peer, ...host.wrap(command, args), logPath: join(host.dir, `${peer}.log`) });
    processes.push(proc);
    return proc;
  };
  const socket = join(host.dir, 'containerd.sock');
  const ctr = (args: readonly string[]) => run(binary('ctr'), ['--address', socket, '--namespace', 'k8s.io', ...args]);
  const importImage = async (archive: string): Promise<void> => {
    try {
      await ctr(['images', 'import', archive]);
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? '';
      throw new PeerError('containerd', `could not import ${archive}: ${stderr.trim()}`, { cause: error });
    }
  };
  try {
    controlPlane = await startControlPlane({
      address: host.nodeAddress,
      wrap: host.wrap,
      serviceAccountAdmission: true,
      // The API server reaches the kubelet (logs, exec) at the node's address, not its name.
      extraApiServerArgs: ['--kubelet-preferred-address-types=InternalIP'],
    });
    const plane = controlPlane;
    processes.push(
      startControllerManager(plane, binary('kube-controller-manager'), {
        controllers: CONTROLLERS,
        extraArgs: [`--root-ca-file=${plane.certs.servingCaCert}`],
        wrap: host.wrap,
      }),
    );
    start('kube-scheduler', binary('kube-scheduler'), [`--kubeconfig=${plane.kubeconfigPath}`, '--leader-elect=false']);

    await mkdir(join(host.dir, 'cni'));
    await writeFile(join(host.dir, 'cni', '10-bridge.conflist'), JSON.stringify(cniConfig(host)));
    const containerdConfigPath = join(host.dir, 'containerd.toml');
    await writeFile(containerdConfigPath, containerdConfig(host.dir, pause.reference, binary('cni-plugins'), binary('runc')));
    const containerd = start('containerd', binary('containerd'), ['--config', containerdConfigPath]);
    await waitUntilReady(containerd, 'serving its socket', async () => (await ctr(['version']), true), CONTAINERD_READY_TIMEOUT_MS);
    await Promise.all([importImage(pause.archive), importImage(thanos.archive)]);

    const kubeletConfigPath = join(host.dir, 'kubelet.yaml');
    await writeFile(kubeletConfigPath, stringify(kubeletConfig(host, socket)));
    const kubelet = start('kubelet', binary('kubelet'), [
      `--config=${kubeletConfigPath}`,
      `--kubeconfig=${plane.kubeconfigPath}`,
      `--root-dir=${join(host.dir, 'kubelet')}`,
      `--hostname-override=${host.name}`,
      `--node-ip=${host.nodeAddress}`,
    ]);
    const core = plane.kubeConfig().makeApiClient(CoreV1Api);
    await waitUntilReady(kubelet, `node ${host.name} Ready`, () => nodeReady(core, host.name), NODE_READY_TIMEOUT_MS);
    return {
      name: host.name,
      host,
      controlPlane: plane,
      thanosImage: thanos.reference,
      importImage,
      logTail: () => processes.map((proc) => `${proc.peer}, last log lines:\n${proc.logTail(15)}`).join('\n'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
