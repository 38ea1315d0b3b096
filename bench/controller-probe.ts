// Runs the controller as its own process against the real peers and reads what the kernel says it costs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sampleValue } from '../test/support/controller-process.ts';
import { startPeerProcess, type PeerProcess } from '../test/peers/peer-process.ts';
import { freePort } from '../test/peers/ports.ts';

// Kernel clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on every Linux this runs on).
const CLOCK_TICKS = 100;

export interface Probe {
  readonly proc: PeerProcess;
  readonly port: number;
  /** Resident set size now (VmRSS) and its peak so far (VmHWM), in MiB. */
  memory(): { rssMb: number; peakMb: number };
  /** User + system CPU seconds the process has used so far. */
  cpuSeconds(): number;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Successful polls and Route53 calls (every zone and outcome) read from one scrape, so they agree. */
  pollsAndCalls(): Promise<{ polls: number; calls: number }>;
  ready(): Promise<boolean>;
  stop(): Promise<void>;
}

/** `node <nodeArgs> <script>` with `env` alone (plus a free LISTEN_ADDRESS), logging to `dir/<name>.log`. */
export async function startProbe(options: {
  node: string;
  nodeArgs: readonly string[];
  script: string;
  env: Record<string, string>;
  dir: string;
  name: string;
}): Promise<Probe> {
  const port = await freePort();
  const proc = startPeerProcess({
    peer: options.name,
    command: options.node,
    args: [...options.nodeArgs, options.script],
    logPath: join(options.dir, `${options.name}.log`),
    env: { ...options.env, LISTEN_ADDRESS: `127.0.0.1:${port}` },
  });
  const pid = proc.pid;
  if (pid === undefined) throw new Error(`${options.name} did not start`);
  const url = `http://127.0.0.1:${port}`;
  const scrape = async () => (await fetch(`${url}/metrics`)).text();
  return {
    proc,
    port,
    memory() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
    },
    cpuSeconds() {
      // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the whole line.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
    metric: async (name, labels = {}) => sampleValue(await scrape(), name, labels),
    async pollsAndCalls() {
      const text = await scrape();
      const calls = text
        .split('\n')
        .filter((line) => line.startsWith('thanos_store_discovery_route53_requests_total{'))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
      return { polls: sampleValue(text, 'thanos_store_discovery_route53_poll_duration_seconds_count', { outcome: 'success' }), calls };
    },
    async ready() {
      try {
        return (await fetch(`${url}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    stop: () => proc.stop(),
  };
}

/**
 * Polls `condition` every `everyMs`; throws naming `what` after `timeoutMs`, with the end of the controller's log.
 * Each metrics scrape costs the controller CPU: while CPU is measured, check seldom.
 */
export async function until(
  probe: Probe,
  condition: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs: number,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A condition that throws (the controller not serving yet) counts as not yet.
  while (
    !(await Promise.resolve()
      .then(condition)
      .catch(() => false))
  ) {
    if (probe.proc.hasExited()) throw new Error(`controller exited before ${what}:\n${probe.proc.logTail(20)}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms:\n${probe.proc.logTail(20)}`);
    await sleep(everyMs);
  }
}
