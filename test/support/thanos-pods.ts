// Thanos Query as the Deployment's pods would run it, without a kubelet: each "pod" has its own ConfigMap volume
// kept in sync the kubelet's way, and with RESTART_MODE=annotation a change of the pod-template hash starts a new
// pod (fresh volume, fresh process) before the old one stops, as a RollingUpdate with maxSurge 1 does.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import type { OutputFormat } from '../../src/config.ts';
import type { HostsFile } from '../peers/hosts-namespace.ts';
import { KubeletConfigMapSync } from '../peers/kubelet-volume.ts';
import { startThanosQuery, type ThanosQuery } from '../peers/thanos.ts';
import { readDeployment, SD_KEY, templateHash, THANOS_CONFIGMAP } from './thanos.ts';
import { waitFor } from './wait.ts';

/**
 * The Thanos flags the README recommends for reading the controller's file, with the refresh interval that bounds
 * how late a change in the mounted file is seen (the default 30 s DNS loop for file_sd, 5 m for endpoint-config).
 */
export function thanosSdArgs(format: OutputFormat, file: string, refreshSeconds: number): string[] {
  return format === 'endpoint-config'
    ? [`--endpoint.sd-config-file=${file}`, `--endpoint.sd-config-reload-interval=${refreshSeconds}s`]
    : [`--store.sd-files=${file}`, `--store.sd-dns-interval=${refreshSeconds}s`];
}

interface Pod {
  name: string;
  hash: string | undefined;
  sync: KubeletConfigMapSync;
  query: ThanosQuery;
}

export interface ThanosPodsOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  hosts: HostsFile;
  format: OutputFormat;
  refreshSeconds: number;
  /** With `annotation`, a new pod replaces the current one whenever the pod-template hash changes. */
  rollOnHashChange: boolean;
  /** How often each pod's volume re-reads the ConfigMap (a real kubelet: its sync period plus cache TTL, ~1 min). */
  kubeletSyncMs?: number;
}

export class ThanosPods {
  private readonly options: ThanosPodsOptions;
  private readonly dir: string;
  private current: Pod | undefined;
  private failure: unknown;
  private watching: Promise<void> | undefined;
  private stopped = false;
  private started = 0;
  /** Each pod started after the first, with the hash it was started for and when it was Ready. */
  readonly rollouts: { hash: string | undefined; readyAt: number }[] = [];

  private constructor(options: ThanosPodsOptions, dir: string) {
    this.options = options;
    this.dir = dir;
  }

  /** Starts the first pod once the ConfigMap exists (with endpoint-config, Thanos exits on a missing file). */
  static async start(options: ThanosPodsOptions): Promise<ThanosPods> {
    const pods = new ThanosPods(options, await mkdtemp(join(tmpdir(), 'tsd-thanos-pods-')));
    try {
      pods.current = await pods.startPod(templateHash(await readDeployment(options.kubeConfig, options.namespace)));
      if (options.rollOnHashChange) pods.watching = pods.watchTemplate().catch((error: unknown) => void (pods.failure = error));
    } catch (error) {
      await pods.stop();
      throw error;
    }
    return pods;
  }

  /** The pod serving queries now (the newest Ready one). */
  get query(): ThanosQuery {
    if (this.failure !== undefined) throw new Error('a rollout failed to start its Thanos pod', { cause: this.failure });
    if (this.current === undefined) throw new Error('no Thanos pod is running');
    return this.current.query;
  }

  healthyStores(): Promise<string[]> {
    return this.query.healthyStores();
  }

  /** What the current pod's mounted file holds now. */
  volumeText(): Promise<string> {
    if (this.current === undefined) throw new Error('no Thanos pod is running');
    return readFile(join(this.current.sync.volume.dir, SD_KEY), 'utf8');
  }

  logTail(): string {
    return this.current?.query.process.logTail(30) ?? '(no pod)';
  }

  private async startPod(hash: string | undefined): Promise<Pod> {
    const name = `pod-${++this.started}`;
    const sync = new KubeletConfigMapSync({
      kubeConfig: this.options.kubeConfig,
      namespace: this.options.namespace,
      name: THANOS_CONFIGMAP,
      dir: join(this.dir, name, 'volume'),
      syncMs: this.options.kubeletSyncMs ?? 500,
    });
    // The kubelet mounts the volume before it starts the container.
    await waitFor(async () => (await sync.syncOnce())?.[SD_KEY] !== undefined, 'the ConfigMap to exist for the volume', 30_000);
    sync.start();
    const file = join(sync.volume.dir, SD_KEY);
    try {
      const query = await startThanosQuery({
        hosts: this.options.hosts,
        sdArgs: thanosSdArgs(this.options.format, file, this.options.refreshSeconds),
        logPath: join(this.dir, `${name}.log`),
      });
      return { name, hash, sync, query };
    } catch (error) {
      await sync.stop();
      throw error;
    }
  }

  private async watchTemplate(): Promise<void> {
    while (!this.stopped) {
      await sleep(200);
      const hash = templateHash(await readDeployment(this.options.kubeConfig, this.options.namespace).catch(() => undefined));
      if (this.stopped || hash === undefined || hash === this.current?.hash) continue;
      const next = await this.startPod(hash);
      this.rollouts.push({ hash, readyAt: Date.now() });
      const old = this.current;
      this.current = next;
      if (old !== undefined) await stopPod(old);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watching;
    if (this.current !== undefined) await stopPod(this.current);
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function stopPod(pod: Pod): Promise<void> {
  await pod.query.stop();
  await pod.sync.stop();
}
