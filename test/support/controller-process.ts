import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInThisContext } from 'node:vm';
import { startPeerProcess, waitUntilReady, type PeerProcess } from '../peers/peer-process.ts';
import { freePort } from '../peers/ports.ts';
import { TEST_AWS_CREDENTIALS, TEST_AWS_REGION } from '../peers/route53-fixture.ts';
import { waitFor } from './wait.ts';

export const MAIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'src', 'main.ts');
// The real Node binary: inside jest `process` is a sandbox copy, but execPath is the same Node 24 running jest.
export const NODE = (runInThisContext('process') as NodeJS.Process).execPath;

export interface ControllerEnvOptions {
  kubeconfigPath: string;
  namespace: string;
  zones: readonly string[];
  route53Endpoint: string;
  deploymentName?: string;
  configMapName?: string;
  hookUrl?: string;
  /** Extra or overriding variables, e.g. `{ RUN_ONCE: 'true' }`; `undefined` removes one. */
  extra?: Record<string, string | undefined>;
}

/** The environment the controller gets in the tests: only what is set here, nothing from the developer's shell. */
export function controllerEnv(options: ControllerEnvOptions): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    DEVELOPER_MODE: 'true',
    KUBECONFIG: options.kubeconfigPath,
    PRIVATE_HOSTED_ZONE_ID: options.zones.join(','),
    THANOS_NAMESPACE: options.namespace,
    THANOS_DEPLOYMENT_NAME: options.deploymentName ?? 'thanos-query',
    THANOS_CONFIGMAP_NAME: options.configMapName ?? 'thanos-store-sd',
    MATTERMOST_ALERTS_HOOK: options.hookUrl,
    POLL_INTERVAL_SECONDS: '1',
    LOG_LEVEL: 'debug',
    // The scenarios measure convergence itself; the safety rules that delay it on purpose (removal hysteresis,
    // the mass-removal hold, the storm guard) are off here and tested with their defaults in their own files.
    REMOVAL_CONFIRM_POLLS: '1',
    MAX_REMOVAL_PERCENT: '100',
    RESTART_MIN_INTERVAL_SECONDS: '0',
    AWS_ENDPOINT_URL_ROUTE_53: options.route53Endpoint,
    AWS_REGION: TEST_AWS_REGION,
    AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
    ...options.extra,
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

export type LogLine = Record<string, unknown> & { level?: string; message?: string };

export interface ControllerProcess {
  readonly logPath: string;
  readonly metricsUrl: string;
  readonly exited: Promise<number | null>;
  /** Every JSON log line written so far (non-JSON lines, e.g. stderr text, are skipped). */
  logs(): LogLine[];
  output(): string;
  waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** A sample's value from /metrics (labels must match exactly those given); 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  waitUntilReady(timeoutMs?: number): Promise<void>;
  /** Sends `signal` and returns at once (SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void;
  /** Sends `signal` and resolves with the exit code and how long the exit took. */
  terminate(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  stop(): Promise<void>;
}

/** Runs `node src/main.ts` as production does (its own process, env only), logging to a file in `dir`. */
export async function startController(env: Record<string, string>, dir: string, name = 'controller'): Promise<ControllerProcess> {
  const port = await freePort();
  const logPath = join(dir, `${name}.log`);
  const proc: PeerProcess = startPeerProcess({
    peer: name,
    command: NODE,
    args: [MAIN],
    logPath,
    env: { LISTEN_ADDRESS: `127.0.0.1:${port}`, ...env },
  });
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const output = () => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const logs = () =>
    output()
      .split('\n')
      .flatMap((line): LogLine[] => {
        try {
          const parsed: unknown = JSON.parse(line);
          return typeof parsed === 'object' && parsed !== null ? [parsed as LogLine] : [];
        } catch {
          return [];
        }
      });
  return {
    logPath,
    metricsUrl,
    exited: proc.exited,
    logs,
    output,
    async waitForLog(match, what, timeoutMs = 15_000) {
      let found: LogLine | undefined;
      await waitFor(
        () => (found = logs().find(match)) !== undefined,
        `log line: ${what}`,
        timeoutMs,
        () => proc.logTail(30),
      );
      return found!;
    },
    async metric(metricName, labels = {}) {
      const text = await (await fetch(metricsUrl)).text();
      return sampleValue(text, metricName, labels);
    },
    async waitUntilReady(timeoutMs = 30_000) {
      await waitUntilReady(
        proc,
        'ready (/readyz 200)',
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
        timeoutMs,
      );
    },
    signal: (signal) => void proc.kill(signal),
    async terminate(signal = 'SIGTERM') {
      const started = Date.now();
      proc.kill(signal);
      const code = await proc.exited;
      return { code, ms: Date.now() - started };
    },
    stop: () => proc.stop(),
  };
}

/** Parses Prometheus text exposition for one sample. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const sampleLabels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? '', m[2] ?? ''] as const),
    );
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(sampleLabels).length && wanted.every(([k, v]) => sampleLabels[k] === v)) return Number(match[3]);
  }
  return 0;
}
