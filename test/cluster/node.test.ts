// The one-node cluster harness itself: the node goes Ready under a real kubelet, runs a pod the way the chart's pods
// run (non-root, read-only root filesystem, a memory limit), and leaves nothing behind on the machine.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { startNode, type Node } from '../peers/node.ts';
import { PEER_BUILD_TIMEOUT_MS } from '../support/tools.ts';
import { waitFor } from '../support/wait.ts';

const POD_TIMEOUT_MS = 120_000;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('a one-node cluster with a real kubelet', () => {
  let node: Node | undefined;

  beforeAll(async () => {
    node = await startNode();
  }, PEER_BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await node?.stop();
  });

  const started = (): Node => {
    if (node === undefined) throw new Error('the node did not start');
    return node;
  };

  it('runs a pod as a non-root user with a read-only root filesystem under its memory limit, and serves its log', async () => {
    const { controlPlane, thanosImage, host } = started();
    const core = controlPlane.kubeConfig().makeApiClient(CoreV1Api);
    const namespace = await controlPlane.createNamespace('tsd-node-smoke');
    await waitFor(
      async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace })) !== undefined,
      'the default ServiceAccount',
    );
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'thanos-version' },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'thanos',
              image: thanosImage,
              imagePullPolicy: 'Never',
              // Thanos prints its version on stderr; the pod log interleaves two streams in no set order.
              command: [
                '/bin/busybox',
                'sh',
                '-c',
                '/bin/busybox id -u; /bin/thanos --version 2>&1; /bin/busybox cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
              ],
              resources: { limits: { memory: '64Mi' } },
              securityContext: { runAsUser: 1000, runAsNonRoot: true, readOnlyRootFilesystem: true },
            },
          ],
        },
      },
    });
    let phase: string | undefined;
    await waitFor(
      async () => {
        phase = (await core.readNamespacedPod({ name: 'thanos-version', namespace })).status?.phase;
        return phase === 'Succeeded' || phase === 'Failed';
      },
      'the pod to finish',
      POD_TIMEOUT_MS,
      () => `phase ${phase}\n${started().logTail()}`,
    );
    const pod = await core.readNamespacedPod({ name: 'thanos-version', namespace });
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    expect(pod.status?.podIP).toMatch(new RegExp(`^${host.podSubnet.split('.').slice(0, 3).join('\\.')}\\.`));
    const log = await core.readNamespacedPodLog({ name: 'thanos-version', namespace });
    const lines = log.trim().split('\n');
    const [uid, version, limit] = [lines[0], lines[1], lines.at(-1)];
    expect(uid).toBe('1000');
    expect(version).toMatch(/^thanos, version 0\.42\.4/);
    expect(Number(limit)).toBe(64 * 1024 * 1024);
  });

  it('leaves no process, mount, cgroup, network namespace or file behind once stopped', async () => {
    const { host } = started();
    await started().stop();
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mounts.split('\n').filter((line) => line.includes(host.dir))).toEqual([]);
    const cgroups = await readdir('/sys/fs/cgroup');
    const left = [];
    for (const hierarchy of cgroups) if (await exists(join('/sys/fs/cgroup', hierarchy, host.name))) left.push(hierarchy);
    expect(left).toEqual([]);
    expect(await exists(host.netns)).toBe(false);
    expect(await exists(host.dir)).toBe(false);
    const processes = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmdline = await readFile(join('/proc', pid, 'cmdline'), 'utf8').catch(() => '');
      if (cmdline.includes(host.dir)) processes.push(cmdline.replaceAll('\0', ' '));
    }
    expect(processes).toEqual([]);
    const cniCache = await readdir('/var/lib/cni/results').catch(() => []);
    expect(cniCache.filter((file) => file.startsWith(`${host.name}-`) || file.startsWith('cni-loopback-'))).toEqual([]);
  });
});
