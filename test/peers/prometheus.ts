import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { resolvePeerBinaries } from './binaries.ts';
import { PeerError } from './peer-error.ts';
import { startPeerInDir } from './peer-process.ts';
import { freePort } from './ports.ts';

const READY_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 2_000;

export interface PrometheusSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

export interface PrometheusMetadata {
  type: string;
  help: string;
  unit: string;
}

/** A real Prometheus server on loopback, with its own TSDB in a temp dir. */
export interface Prometheus {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly logPath: string;
  /** An instant query; throws a PeerError with Prometheus' own error when the expression does not parse or fails. */
  query(expr: string): Promise<PrometheusSample[]>;
  /** The label sets of every series matching `selector` (GET /api/v1/series). */
  series(selector: string): Promise<Record<string, string>[]>;
  /** Metadata (type, help) of every metric the targets expose, by metric family name. */
  metadata(): Promise<Record<string, PrometheusMetadata[]>>;
  /** Active (pending or firing) alerts of the rule engine. */
  alerts(): Promise<PrometheusAlert[]>;
  stop(): Promise<void>;
}

export interface PrometheusConfig {
  /** The `global` section, e.g. `{ evaluation_interval: '1s' }`. */
  global?: Record<string, unknown>;
  scrapeConfigs: Record<string, unknown>[];
  /** Rule groups (`{ groups: [...] }`, the spec of a PrometheusRule), loaded as one rule file. */
  rules?: unknown;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
}

export async function startPrometheus(config: PrometheusConfig): Promise<Prometheus> {
  const { prometheus } = await resolvePeerBinaries(['prometheus']);
  const dir = await mkdtemp(join(tmpdir(), 'tsd-prometheus-'));
  const ruleFiles = config.rules === undefined ? [] : [join(dir, 'rules.yml')];
  if (config.rules !== undefined) await writeFile(ruleFiles[0]!, stringify(config.rules));
  await writeFile(
    join(dir, 'prometheus.yml'),
    stringify({ global: config.global ?? {}, rule_files: ruleFiles, scrape_configs: config.scrapeConfigs }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { proc, stop } = await startPeerInDir({
    peer: 'prometheus',
    command: prometheus,
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    logPath: join(dir, 'prometheus.log'),
    dir,
    ready: `ready at ${url}`,
    probe: async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })).status === 200,
    timeoutMs: READY_TIMEOUT_MS,
  });

  async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const response = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params).toString()}`);
    const answer = (await response.json()) as ApiAnswer<T>;
    if (answer.status !== 'success')
      throw new PeerError('prometheus', `${path} ${JSON.stringify(params)}: ${answer.error ?? response.status}`);
    return answer.data;
  }

  return {
    url,
    logPath: proc.logPath,
    query: async (expr) => (await api<{ result: PrometheusSample[] }>('query', { query: expr })).result,
    series: (selector) => api('series', { 'match[]': selector }),
    metadata: () => api('metadata'),
    alerts: async () => (await api<{ alerts: PrometheusAlert[] }>('alerts')).alerts,
    stop,
  };
}
