import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * - `forward`: every connection is passed to the target byte for byte (TLS goes through untouched).
 * - `reset`: every new connection is reset at once (TCP RST), as an API server going down or a load balancer does.
 * - `silent`: connections are accepted and never answered, as a hung API server or a black-holed route.
 */
export type TcpFaultMode = 'forward' | 'reset' | 'silent';

/** A TCP proxy in front of the API server whose fault applies per connection, so clients with keep-alive notice too. */
export interface TcpFaultProxy {
  /** https://127.0.0.1:<port>, a kubeconfig's `server` (the serving cert names 127.0.0.1). */
  readonly url: string;
  /** Connections reset or held silent so far. */
  readonly refused: number;
  /** Applies to new connections; leaving `silent` or `forward` also ends the connections held or forwarded so far. */
  setMode(mode: TcpFaultMode): void;
  stop(): Promise<void>;
}

export async function startTcpFaultProxy(target: { host: string; port: number }, mode: TcpFaultMode): Promise<TcpFaultProxy> {
  let current = mode;
  let refused = 0;
  const open = new Set<Socket>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // A peer that goes away mid-stream is part of the faults this proxy makes; it must not crash the test run.
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (current === 'reset') {
      refused++;
      client.resetAndDestroy();
      return;
    }
    if (current === 'silent') {
      refused++;
      return;
    }
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream).pipe(client);
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endAll = () => {
    for (const socket of open) socket.destroy();
  };
  return {
    url: `https://127.0.0.1:${port}`,
    get refused() {
      return refused;
    },
    setMode(next) {
      if (next !== current) endAll();
      current = next;
    },
    async stop() {
      endAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
