// The consumer's side of the demo: a real Thanos Query reading the published ConfigMap through a kubelet-style
// volume (a new "pod" per rollout), with a real `thanos store` server behind every published name.
import { mkdtemp, rm } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { HostsFile } from '../../test/peers/hosts-namespace.ts';
import { startThanosStore, type ThanosStore } from '../../test/peers/thanos.ts';
import { ThanosPods } from '../../test/support/thanos-pods.ts';
import { waitFor } from '../../test/support/wait.ts';

const STORE_PORT = 10901;
// Short, so a new pod's empty start (file_sd lists nothing until this DNS-interval tick) stays brief in the demo.
const REFRESH_SECONDS = 5;

export interface ThanosView {
  /** Waits until Thanos Query lists exactly `hosts`, healthy, and returns the names as Thanos shows them. */
  waitForStores(hosts: readonly string[], timeoutMs: number): Promise<string[]>;
  stop(): Promise<void>;
}

/** Why the view cannot run here, or undefined when it can: a private /etc/hosts needs `unshare --mount` as root. */
export function thanosViewUnavailable(): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'it needs root (Thanos Query gets a private /etc/hosts through unshare --mount)';
}

export async function startThanosView(options: {
  kubeConfig: KubeConfig;
  namespace: string;
  hosts: readonly string[];
}): Promise<ThanosView> {
  const dir = await mkdtemp(join(tmpdir(), 'tsd-demo-thanos-'));
  const hostsFile = new HostsFile(join(dir, 'hosts'));
  const net = `127.${randomInt(16, 250)}.${randomInt(1, 250)}`;
  const stores: ThanosStore[] = [];
  let pods: ThanosPods | undefined;
  const stop = async (): Promise<void> => {
    await pods?.stop();
    await Promise.all(stores.map((store) => store.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, host] of options.hosts.entries()) {
      stores.push(await startThanosStore({ ip: `${net}.${i + 1}`, grpcPort: STORE_PORT }));
      await hostsFile.set(host, `${net}.${i + 1}`);
    }
    pods = await ThanosPods.start({
      kubeConfig: options.kubeConfig,
      namespace: options.namespace,
      hosts: hostsFile,
      format: 'file_sd',
      refreshSeconds: REFRESH_SECONDS,
      rollOnHashChange: true,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const running = pods;
  return {
    async waitForStores(hosts, timeoutMs) {
      const want = hosts.map((host) => `${host}.:${STORE_PORT}`).sort();
      let seen: string[] = [];
      await waitFor(
        async () => {
          seen = await running.healthyStores();
          return JSON.stringify(seen) === JSON.stringify(want);
        },
        `Thanos Query to list ${want.join(', ')}`,
        timeoutMs,
        () => `it lists: ${seen.join(', ') || '(nothing)'}\n${running.logTail()}`,
      );
      return seen;
    },
    stop,
  };
}
