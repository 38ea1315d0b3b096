import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PeerError } from './peer-error.ts';
import { cleanUpOnAbnormalExit, type WrapCommand } from './peer-process.ts';

const run = promisify(execFile);
const TEARDOWN = fileURLToPath(new URL('node-teardown.sh', import.meta.url));
const CGROUP_ROOT = '/sys/fs/cgroup';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/**
 * What a one-node cluster runs in, made for one run and removed after it: a network namespace of its own, joined to
 * the test process by a veth pair (the only traffic the tests send off loopback goes to addresses in it), and a
 * cgroup of its own in every v1 hierarchy (the kubelet's cgroupRoot; containerd and so its shims run in it, which is
 * how the teardown finds every process the run left). Everything carries the run's name, `tsd-node-<hex>`.
 */
export interface NodeHost {
  readonly name: string;
  /** Holds every file of the run; its mounts are undone by the teardown. */
  readonly dir: string;
  /** /var/run/netns/<name>. */
  readonly netns: string;
  /** The node's address (the namespace's end of the veth): the kubelet, the API server and etcd listen on it. */
  readonly nodeAddress: string;
  /** The CNI bridge's pod range. */
  readonly podSubnet: string;
  /** The cgroup path (the same in every hierarchy) the pods go under. */
  readonly cgroup: string;
  /** More addresses in the namespace, reachable from pods and from the test process (e.g. StoreAPI servers). */
  addAddress(): Promise<string>;
  /** The command line that runs `command args` in the namespace and in the run's cgroup. */
  wrap: WrapCommand;
  /** Runs the teardown; safe to call more than once. */
  remove(): Promise<void>;
}

async function sh(command: string, args: readonly string[]): Promise<string> {
  try {
    return (await run(command, args)).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new PeerError('node host', `${command} ${args.join(' ')} failed: ${stderr.trim()}`, { cause: error });
  }
}

async function makeCgroups(name: string): Promise<void> {
  for (const hierarchy of await readdir(CGROUP_ROOT)) {
    if (hierarchy === 'unified') continue;
    const dir = join(CGROUP_ROOT, hierarchy, name);
    await mkdir(dir, { recursive: true });
    // A v1 cpuset starts empty: no task may join until it has the parent's CPUs and memory nodes.
    if (hierarchy === 'cpuset') {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        await writeFile(join(dir, file), await readFile(join(CGROUP_ROOT, hierarchy, file), 'utf8'));
      }
    }
  }
}

/**
 * An octet X whose 10.251.X.0/28 no interface of the host holds: two runs at once (a CI run beside a developer's)
 * must not share it, or the host would route one run's traffic into the other's namespace.
 */
async function freeOctet(): Promise<number> {
  const taken = new Set([...(await sh('ip', ['-o', '-4', 'addr', 'show'])).matchAll(/ 10\.251\.(\d+)\./g)].map((m) => Number(m[1])));
  const free = Array.from({ length: 256 }, (_, i) => i).filter((i) => !taken.has(i));
  if (free.length === 0) throw new PeerError('node host', 'every 10.251.X.0/28 is in use on this host');
  return free[randomInt(0, free.length)] as number;
}

export async function createNodeHost(): Promise<NodeHost> {
  const octet = await freeOctet();
  const name = `tsd-node-${octet.toString(16).padStart(2, '0')}${randomInt(0, 256).toString(16).padStart(2, '0')}`;
  const dir = join('/tmp', name);
  const netns = `/var/run/netns/${name}`;
  const forward = (await readFile(IP_FORWARD, 'utf8')).trim();
  const release = cleanUpOnAbnormalExit(['bash', TEARDOWN, dir, name, forward]);
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    await sh('bash', [TEARDOWN, dir, name, forward]);
    release();
  };
  // 10.251.X.0/28 joins the test process to the node; 10.252.X.0/24 is the pod range: neither is routed further.
  const hostAddress = `10.251.${octet}.1`;
  const nodeAddress = `10.251.${octet}.2`;
  let nextAddress = 3;
  const inNetns = (args: readonly string[]) => sh('nsenter', [`--net=${netns}`, ...args]);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await makeCgroups(name);
    await sh('ip', ['netns', 'add', name]);
    await sh('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
    await sh('ip', ['addr', 'add', `${hostAddress}/28`, 'dev', name]);
    await sh('ip', ['link', 'set', name, 'up']);
    await inNetns(['ip', 'link', 'set', 'lo', 'up']);
    await inNetns(['ip', 'addr', 'add', `${nodeAddress}/28`, 'dev', 'eth0']);
    await inNetns(['ip', 'link', 'set', 'eth0', 'up']);
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    name,
    dir,
    netns,
    nodeAddress,
    podSubnet: `10.252.${octet}.0/24`,
    cgroup: `/${name}`,
    async addAddress() {
      if (nextAddress > 14) throw new PeerError('node host', 'the /28 between the test process and the node is full');
      const address = `10.251.${octet}.${nextAddress++}`;
      await inNetns(['ip', 'addr', 'add', `${address}/32`, 'dev', 'eth0']);
      return address;
    },
    wrap(command, args) {
      const script = `echo $$ > ${join(CGROUP_ROOT, 'pids', name, 'cgroup.procs')} && exec "$@"`;
      return { command: 'nsenter', args: [`--net=${netns}`, 'sh', '-c', script, 'sh', command, ...args] };
    },
    remove,
  };
}
