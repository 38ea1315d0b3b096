import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePeerBinaries } from './binaries.ts';
import { withPrivateHosts, type HostsFile } from './hosts-namespace.ts';
import { PeerError } from './peer-error.ts';
import { removeTempDir, startPeerProcess, trackTempDir, waitUntilReady, type PeerProcess, type WrapCommand } from './peer-process.ts';
import { freePorts } from './ports.ts';

const READY_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 2_000;

async function thanosBinary(): Promise<string> {
  return (await resolvePeerBinaries(['thanos'])).thanos;
}

async function httpOk(url: string): Promise<boolean> {
  return (await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })).ok;
}

/** A real StoreAPI server: `thanos store` over an empty FILESYSTEM bucket, gRPC on `address:grpcPort`. */
export interface ThanosStore {
  /** `ip:port` it serves StoreAPI on. */
  readonly grpcAddress: string;
  readonly process: PeerProcess;
  stop(): Promise<void>;
}

export async function startThanosStore(options: {
  ip: string;
  grpcPort: number;
  /** gRPC over TLS with this serving pair; with `clientCa`, clients must present a certificate it signed (mTLS). */
  tls?: { cert: string; key: string; clientCa?: string };
  /** Rewrites its command line, e.g. to start it in a node's network namespace (see ControlPlaneOptions). */
  wrap?: WrapCommand;
}): Promise<ThanosStore> {
  const binary = await thanosBinary();
  const dir = await mkdtemp(join(tmpdir(), 'tsd-thanos-store-'));
  trackTempDir(dir);
  await mkdir(join(dir, 'bucket'));
  const objstore = join(dir, 'objstore.yml');
  await writeFile(objstore, `type: FILESYSTEM\nconfig:\n  directory: ${join(dir, 'bucket')}\n`);
  const [httpPort] = (await freePorts(1)) as [number];
  const grpcAddress = `${options.ip}:${options.grpcPort}`;
  const args = [
    'store',
    `--data-dir=${join(dir, 'data')}`,
    `--objstore.config-file=${objstore}`,
    `--grpc-address=${grpcAddress}`,
    `--http-address=${options.ip}:${httpPort}`,
    '--log.level=warn',
    ...(options.tls === undefined
      ? []
      : [
          `--grpc-server-tls-cert=${options.tls.cert}`,
          `--grpc-server-tls-key=${options.tls.key}`,
          ...(options.tls.clientCa === undefined ? [] : [`--grpc-server-tls-client-ca=${options.tls.clientCa}`]),
        ]),
  ];
  const proc = startPeerProcess({
    peer: `thanos store ${grpcAddress}`,
    ...(options.wrap?.(binary, args) ?? { command: binary, args }),
    logPath: join(dir, 'store.log'),
  });
  const stop = async (): Promise<void> => {
    await proc.stop();
    removeTempDir(dir);
  };
  try {
    await waitUntilReady(proc, 'ready', () => httpOk(`http://${options.ip}:${httpPort}/-/ready`), READY_TIMEOUT_MS);
  } catch (error) {
    await stop();
    throw error;
  }
  return { grpcAddress, process: proc, stop };
}

/** One store as `GET /api/v1/stores` of Thanos Query lists it. */
export interface ListedStore {
  name: string;
  lastError: string | null;
}

export interface ThanosQuery {
  readonly process: PeerProcess;
  readonly httpUrl: string;
  /** Every endpoint Thanos Query lists, of any component type. */
  stores(): Promise<ListedStore[]>;
  /** The listed endpoints whose last health check succeeded, by name as Thanos shows it. */
  healthyStores(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * `thanos query` reading its endpoints from `sdArgs` (the flags for the file in a ConfigMap volume), with `hosts` as
 * its only name resolution for the published names. Resolves once /-/ready answers; stores may come later.
 */
export async function startThanosQuery(options: {
  hosts: HostsFile;
  sdArgs: readonly string[];
  logPath: string;
  /** Where it serves HTTP, as a pod on its own IP would; a free port on 127.0.0.1 by default. */
  http?: { ip: string; port: number };
}): Promise<ThanosQuery> {
  const binary = await thanosBinary();
  const [freeHttpPort, grpcPort] = (await freePorts(2)) as [number, number];
  const { ip, port: httpPort } = options.http ?? { ip: '127.0.0.1', port: freeHttpPort };
  const httpUrl = `http://${ip}:${httpPort}`;
  const wrapped = withPrivateHosts(options.hosts, binary, [
    'query',
    `--http-address=${ip}:${httpPort}`,
    `--grpc-address=127.0.0.1:${grpcPort}`,
    '--log.level=info',
    ...options.sdArgs,
  ]);
  const proc = startPeerProcess({ peer: 'thanos query', ...wrapped, logPath: options.logPath });
  const stores = async (): Promise<ListedStore[]> => {
    const response = await fetch(`${httpUrl}/api/v1/stores`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    if (!response.ok) throw new PeerError('thanos query', `/api/v1/stores answered ${response.status}`);
    const body = (await response.json()) as { data?: Record<string, ListedStore[] | null> };
    return Object.values(body.data ?? {}).flatMap((list) => list ?? []);
  };
  try {
    await waitUntilReady(proc, 'ready', () => httpOk(`${httpUrl}/-/ready`), READY_TIMEOUT_MS);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return {
    process: proc,
    httpUrl,
    stores,
    async healthyStores() {
      return (await stores())
        .filter((store) => store.lastError === null || store.lastError === '')
        .map((store) => store.name)
        .sort();
    },
    stop: () => proc.stop(),
  };
}
