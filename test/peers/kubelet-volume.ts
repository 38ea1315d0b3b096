import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

const DATA = '..data';
const DATA_TMP = '..data_tmp';

function timestampPrefix(now: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const [y, mo, d, h, mi, s] = [
    now.getUTCFullYear(),
    now.getUTCMonth() + 1,
    now.getUTCDate(),
    now.getUTCHours(),
    now.getUTCMinutes(),
    now.getUTCSeconds(),
  ];
  return `..${y}_${pad(mo)}_${pad(d)}_${pad(h)}_${pad(mi)}_${pad(s)}.`;
}

/**
 * A ConfigMap volume laid out as the kubelet's AtomicWriter lays it out: the keys live in a timestamped directory,
 * `..data` links to the current one, and each key is a link `key -> ..data/key`. An update writes a new directory
 * and swaps `..data` with one rename, so a reader sees the old content or the new one, never a mix or a half file.
 */
export class ConfigMapVolume {
  readonly dir: string;
  private current: Record<string, string> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Makes the volume hold exactly `data`; returns false (and writes nothing) when it already does. */
  async project(data: Record<string, string>): Promise<boolean> {
    if (this.current !== undefined && sameData(this.current, data)) return false;
    await mkdir(this.dir, { recursive: true });
    const previous = await readlink(join(this.dir, DATA)).catch(() => undefined);
    const target = await mkdtemp(join(this.dir, timestampPrefix(new Date())));
    for (const [key, value] of Object.entries(data)) await writeFile(join(target, key), value, { mode: 0o644 });
    for (const key of Object.keys(data)) {
      await symlink(join(DATA, key), join(this.dir, key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
    await rm(join(this.dir, DATA_TMP), { force: true });
    await symlink(basename(target), join(this.dir, DATA_TMP));
    await rename(join(this.dir, DATA_TMP), join(this.dir, DATA));
    for (const entry of await readdir(this.dir)) {
      if (!entry.startsWith('..') && !(entry in data)) await rm(join(this.dir, entry), { force: true });
    }
    if (previous !== undefined) await rm(join(this.dir, previous), { recursive: true, force: true });
    this.current = { ...data };
    return true;
  }
}

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/**
 * The kubelet's side of a ConfigMap volume with `optional: true`: it reads the ConfigMap every `syncMs` and
 * projects it; a missing ConfigMap projects no keys, as the kubelet does for an optional one. A failed read leaves
 * the volume as it was.
 */
export class KubeletConfigMapSync {
  readonly volume: ConfigMapVolume;
  private readonly core: CoreV1Api;
  private readonly namespace: string;
  private readonly name: string;
  private readonly syncMs: number;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Each successful projection that changed the volume, with its time. */
  readonly updates: { at: number; data: Record<string, string> }[] = [];

  constructor(options: { kubeConfig: KubeConfig; namespace: string; name: string; dir: string; syncMs: number }) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.namespace = options.namespace;
    this.name = options.name;
    this.syncMs = options.syncMs;
    this.volume = new ConfigMapVolume(options.dir);
  }

  /** One read and projection; returns the data projected, or undefined when the read failed. */
  async syncOnce(): Promise<Record<string, string> | undefined> {
    let data: Record<string, string>;
    try {
      const configMap = await this.core.readNamespacedConfigMap({ namespace: this.namespace, name: this.name });
      data = configMap.data ?? {};
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) return undefined;
      data = {};
    }
    if (await this.volume.project(data)) this.updates.push({ at: Date.now(), data });
    return data;
  }

  start(): void {
    this.running ??= (async () => {
      while (!this.stopped) {
        await this.syncOnce();
        await sleep(this.syncMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}
