import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePeerBinaries } from './binaries.ts';
import { PeerError } from './peer-error.ts';
import { startPeerInDir, type WrapCommand } from './peer-process.ts';
import { freePort } from './ports.ts';

const READY_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 2_000;

/** moto's server mode: one endpoint for every AWS service, Route53 included. */
export interface Moto {
  /** http://<address>:<port>, for an SDK client's `endpoint`. */
  readonly endpoint: string;
  readonly logPath: string;
  /** Drops every zone and record (POST /moto-api/reset). */
  reset(): Promise<void>;
  /** Kills the server and removes its temp dir; safe to call more than once. */
  stop(): Promise<void>;
}

/** `address` (127.0.0.1 when omitted) is where it listens; `wrap` rewrites its command line (see ControlPlaneOptions). */
export async function startMoto(options: { address?: string; wrap?: WrapCommand } = {}): Promise<Moto> {
  const { moto: motoServer } = await resolvePeerBinaries(['moto']);
  const dir = await mkdtemp(join(tmpdir(), 'tsd-moto-'));
  const port = await freePort();
  const address = options.address ?? '127.0.0.1';
  const endpoint = `http://${address}:${port}`;
  const args = ['-H', address, '-p', String(port)];
  const { proc, stop } = await startPeerInDir({
    peer: 'moto',
    ...(options.wrap?.(motoServer, args) ?? { command: motoServer, args }),
    logPath: join(dir, 'moto.log'),
    dir,
    ready: `answering at ${endpoint}`,
    // Any HTTP answer means it serves; the dashboard path needs no signed request.
    probe: async () => (await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })).status > 0,
    timeoutMs: READY_TIMEOUT_MS,
  });
  return {
    endpoint,
    logPath: proc.logPath,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new PeerError('moto', `reset answered ${response.status}: ${await response.text()}`);
    },
    stop,
  };
}
