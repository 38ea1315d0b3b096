import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { COMPRESSIONS, endpointSettingsProblems, TLS_VERSIONS, type EndpointSettings } from './format/endpoint-settings.ts';
import { LOG_LEVELS, type LogLevel } from './logger.ts';
import type { RemovalPolicy } from './plan/desired-set.ts';
import { parseZoneSources, type ZoneSource } from './sources/zone-sources-config.ts';

export const RESTART_MODES = ['annotation', 'none'] as const;
export type RestartMode = (typeof RESTART_MODES)[number];
export const OUTPUT_FORMATS = ['file_sd', 'endpoint-config'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface Config {
  zones: string[];
  /** Zones by id, tag or domain, in this or other accounts (ROUTE53_SOURCES_FILE); undefined when unset. */
  sources: SourcesConfig | undefined;
  namespace: string;
  deploymentName: string;
  configMapName: string;
  configMapKey: string;
  alertsHook: string | undefined;
  developerMode: boolean;
  pollIntervalMs: number;
  /** This controller's share of the account-wide Route53 request quota (5/s by default, shared with external-dns etc.). */
  route53MaxRps: number;
  /** `/readyz` fails when an informer has heard nothing from the API for longer (bookmarks come about once a minute). */
  informerMaxStalenessMs: number;
  recordSuffix: string;
  storePort: number;
  listen: { host: string | undefined; port: number };
  logLevel: LogLevel;
  runOnce: boolean;
  dryRun: boolean;
  restartMode: RestartMode;
  outputFormat: OutputFormat;
  alertRepeatMs: number;
  removal: RemovalPolicy;
  /** Least time between two rollouts (storm guard); 0 turns the guard off. */
  restartMinIntervalMs: number;
  /** Reverts of our pod-template annotation within an hour after which restarts stop (GitOps fight). */
  restartRevertLimit: number;
  /** TLS and per-endpoint settings for OUTPUT_FORMAT=endpoint-config; all unset by default. */
  endpointSettings: EndpointSettings;
  /** Undefined when THANOS_QUERY_URL is unset: no delivery check. */
  delivery: { queryUrl: string; intervalMs: number; alertAfterMs: number } | undefined;
  /** Undefined when leader election is off (one replica). */
  leaderElection: { leaseName: string; identity: string } | undefined;
}

export interface SourcesConfig {
  list: ZoneSource[];
  /** Sources list their zones again every this many polls. */
  discoveryEveryPolls: number;
  /** Names this controller in CloudTrail when it assumes a source's role. */
  roleSessionName: string;
}

/** Every problem found in the environment at once, so one restart fixes them all. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOSTED_ZONE_ID = /^[A-Z0-9]{1,32}$/;
const RECORD_SUFFIX = /^[-a-z0-9]{1,62}$/i;

/** Collects problems while reading typed values, so parsing never stops at the first mistake. */
class EnvReader {
  readonly problems: string[] = [];
  private readonly env: Env;
  constructor(env: Env) {
    this.env = env;
  }

  raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === '' ? undefined : value;
  }

  required(name: string, pattern: RegExp, rule: string): string {
    const value = this.raw(name);
    if (value === undefined) this.problems.push(`${name} is required but missing or empty`);
    else if (!pattern.test(value)) this.problems.push(`${name}="${value}" is not ${rule}`);
    return value ?? '';
  }

  optional(name: string, fallback: string, pattern: RegExp, rule: string): string {
    const value = this.raw(name) ?? fallback;
    if (!pattern.test(value)) this.problems.push(`${name}="${value}" is not ${rule}`);
    return value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value)) {
      this.problems.push(`${name}="${value}" is not a whole number`);
      return fallback;
    }
    const parsed = Number(value);
    if (parsed < min || parsed > max) this.problems.push(`${name}=${value} is out of range ${min}..${max}`);
    return parsed;
  }

  boolean(name: string): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined || value === 'false' || value === '0') return false;
    if (value === 'true' || value === '1') return true;
    this.problems.push(`${name}="${value}" is not true or false`);
    return false;
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.raw(name) ?? fallback;
    if ((choices as readonly string[]).includes(value)) return value as T;
    this.problems.push(`${name}="${value}" is not one of ${choices.join(', ')}`);
    return fallback;
  }

  url(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const problem = hookUrlProblem(value);
    if (problem !== undefined) this.problems.push(`${name} ${problem}`);
    return value;
  }

  configMapKey(name: string, fallback: string): string {
    const value = this.raw(name) ?? fallback;
    const problem = configMapKeyProblem(value);
    if (problem !== undefined) this.problems.push(`${name}="${value}" is not a valid ConfigMap key: ${problem}`);
    return value;
  }
}

/**
 * Why `url` cannot be the alert webhook, or undefined when it can. The URL is a secret: the answer never quotes it.
 * fetch refuses a URL with credentials outright, so one would make every alert fail long after start-up.
 */
export function hookUrlProblem(url: string): string | undefined {
  if (!URL.canParse(url)) return 'is not an http(s) URL';
  const { protocol, username, password } = new URL(url);
  if (protocol !== 'http:' && protocol !== 'https:') return 'is not an http(s) URL';
  if (username !== '' || password !== '') {
    return 'must not carry credentials (user:password@): fetch refuses such a URL, so every alert would fail';
  }
  return undefined;
}

/** Kubernetes' own key rule (IsConfigMapKey in apimachinery), so a bad key fails here, not at the first write. */
function configMapKeyProblem(key: string): string | undefined {
  if (key.length > 253) return 'it is longer than 253 characters';
  if (!/^[-._a-zA-Z0-9]+$/.test(key)) return 'only letters, digits, "-", "_" and "." are allowed';
  if (key === '.' || key.startsWith('..')) return 'it must not be "." or "..", nor start with ".."';
  return undefined;
}

/**
 * Accepts `Z123`, `/hostedzone/Z123` and comma-separated lists of either; order kept, duplicates dropped. Optional
 * only when zone sources are configured.
 */
function parseZones(reader: EnvReader, haveSources: boolean): string[] {
  const raw = reader.raw('PRIVATE_HOSTED_ZONE_ID') ?? '';
  const zones = raw
    .split(',')
    .map((zone) => zone.trim().replace(/^\/?hostedzone\//, ''))
    .filter((zone) => zone !== '');
  if (zones.length === 0 && !haveSources) reader.problems.push('PRIVATE_HOSTED_ZONE_ID is required but missing or empty');
  for (const zone of zones) {
    if (!HOSTED_ZONE_ID.test(zone)) reader.problems.push(`PRIVATE_HOSTED_ZONE_ID entry "${zone}" is not a hosted zone id`);
  }
  return [...new Set(zones)];
}

function parseSources(reader: EnvReader, env: Env, namespace: string, readText: (path: string) => string): SourcesConfig | undefined {
  const file = reader.raw('ROUTE53_SOURCES_FILE');
  if (file === undefined) return undefined;
  const discoveryEveryPolls = reader.integer('ROUTE53_DISCOVERY_EVERY_POLLS', 5, 1, 10_000);
  const sessionName = roleSessionName(reader, env, namespace);
  let text: string;
  try {
    text = readText(file);
  } catch (error) {
    reader.problems.push(`ROUTE53_SOURCES_FILE="${file}" cannot be read: ${(error as Error).message}`);
    return undefined;
  }
  const { sources, problems } = parseZoneSources(text, file);
  reader.problems.push(...problems);
  return { list: sources, discoveryEveryPolls, roleSessionName: sessionName };
}

/** AWS allows [\w+=,.@-]{2,64}; the namespace and pod say who is asking. */
function roleSessionName(reader: EnvReader, env: Env, namespace: string): string {
  const who = `thanos-store-discovery@${namespace}.${reader.raw('POD_NAME') ?? env['HOSTNAME'] ?? hostname()}`;
  return who.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

function parseListenAddress(reader: EnvReader): Config['listen'] {
  const value = reader.optional('LISTEN_ADDRESS', ':8080', /^(\[[0-9a-fA-F:.]+\]|[-a-zA-Z0-9.]*):\d{1,5}$/, 'host:port or :port');
  const separator = value.lastIndexOf(':');
  const host = value.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(value.slice(separator + 1));
  if (port > 65535) reader.problems.push(`LISTEN_ADDRESS port ${port} is out of range 0..65535`);
  return { host: host === '' ? undefined : host, port };
}

function parseLeaderElection(reader: EnvReader, env: Env): Config['leaderElection'] {
  if (!reader.boolean('LEADER_ELECTION')) return undefined;
  return {
    leaseName: reader.optional(
      'LEADER_ELECTION_LEASE_NAME',
      'thanos-store-discovery',
      DNS_SUBDOMAIN,
      'a valid Lease name (DNS-1123 subdomain)',
    ),
    // The pod name (downward API) names the holder in `kubectl get lease`. The random suffix, as client-go adds,
    // keeps two processes on one host (host network, a copied pod spec) from both believing they hold the lease.
    identity: `${reader.raw('POD_NAME') ?? env['HOSTNAME'] ?? hostname()}_${randomBytes(4).toString('hex')}`,
  };
}

function parseRemovalPolicy(reader: EnvReader): RemovalPolicy {
  const confirmPolls = reader.integer('REMOVAL_CONFIRM_POLLS', 2, 1, 1_000);
  const maxPercent = reader.integer('MAX_REMOVAL_PERCENT', 50, 1, 100);
  const massConfirmPolls = reader.integer('MASS_REMOVAL_CONFIRM_POLLS', Math.max(10, confirmPolls), 1, 10_000);
  if (massConfirmPolls < confirmPolls) {
    reader.problems.push(`MASS_REMOVAL_CONFIRM_POLLS=${massConfirmPolls} is less than REMOVAL_CONFIRM_POLLS=${confirmPolls}`);
  }
  return { confirmPolls, maxShare: maxPercent / 100, massConfirmPolls };
}

function parseEndpointSettings(reader: EnvReader, format: OutputFormat): EndpointSettings {
  const flag = (name: string) => (reader.raw(name) === undefined ? undefined : reader.boolean(name));
  const choice = <T extends string>(name: string, choices: readonly T[]) =>
    reader.raw(name) === undefined ? undefined : reader.oneOf(name, choices, choices[0]!);
  const settings: EndpointSettings = {
    tls: {
      enabled: flag('THANOS_TLS_ENABLED'),
      caFile: reader.raw('THANOS_TLS_CA_FILE'),
      certFile: reader.raw('THANOS_TLS_CERT_FILE'),
      keyFile: reader.raw('THANOS_TLS_KEY_FILE'),
      insecureSkipVerify: flag('THANOS_TLS_INSECURE_SKIP_VERIFY'),
      minVersion: choice('THANOS_TLS_MIN_VERSION', TLS_VERSIONS),
    },
    serverNameFromHost: reader.boolean('THANOS_TLS_SERVER_NAME_FROM_HOST'),
    strictHosts: parsePattern(reader, 'THANOS_STRICT_ENDPOINTS'),
    compression: choice('THANOS_GRPC_COMPRESSION', COMPRESSIONS),
  };
  reader.problems.push(...endpointSettingsProblems(settings, format));
  return settings;
}

function parsePattern(reader: EnvReader, name: string): RegExp | undefined {
  const value = reader.raw(name);
  if (value === undefined) return undefined;
  try {
    // Anchored: a pattern names whole hosts, so `cluster-a` never also matches `cluster-a-old`.
    return new RegExp(`^(?:${value})$`);
  } catch (error) {
    reader.problems.push(`${name}="${value}" is not a regular expression: ${(error as Error).message}`);
    return undefined;
  }
}

function parseDelivery(reader: EnvReader): Config['delivery'] {
  const queryUrl = reader.url('THANOS_QUERY_URL');
  if (queryUrl === undefined) return undefined;
  return {
    queryUrl,
    intervalMs: reader.integer('DELIVERY_CHECK_INTERVAL_SECONDS', 30, 1, 86_400) * 1000,
    alertAfterMs: reader.integer('DELIVERY_ALERT_AFTER_SECONDS', 300, 0, 7 * 86_400) * 1000,
  };
}

/** Reads and validates every setting; throws ConfigError listing all problems. */
export function loadConfig(env: Env, readText: (path: string) => string = (path) => readFileSync(path, 'utf8')): Config {
  const reader = new EnvReader(env);
  const outputFormat = reader.oneOf('OUTPUT_FORMAT', OUTPUT_FORMATS, 'file_sd');
  const zones = parseZones(reader, reader.raw('ROUTE53_SOURCES_FILE') !== undefined);
  const namespace = reader.required('THANOS_NAMESPACE', DNS_LABEL, 'a valid namespace name (DNS-1123 label)');
  const config: Config = {
    zones,
    namespace,
    deploymentName: reader.required('THANOS_DEPLOYMENT_NAME', DNS_SUBDOMAIN, 'a valid Deployment name (DNS-1123 subdomain)'),
    configMapName: reader.required('THANOS_CONFIGMAP_NAME', DNS_SUBDOMAIN, 'a valid ConfigMap name (DNS-1123 subdomain)'),
    configMapKey: reader.configMapKey('CONFIGMAP_KEY', 'servicediscovery.yml'),
    alertsHook: reader.url('MATTERMOST_ALERTS_HOOK'),
    developerMode: reader.boolean('DEVELOPER_MODE'),
    pollIntervalMs: reader.integer('POLL_INTERVAL_SECONDS', 60, 1, 86_400) * 1000,
    route53MaxRps: reader.integer('ROUTE53_MAX_RPS', 2, 1, 50),
    informerMaxStalenessMs: reader.integer('INFORMER_MAX_STALENESS_SECONDS', 300, 65, 86_400) * 1000,
    recordSuffix: reader.optional('RECORD_SUFFIX', '-grpc', RECORD_SUFFIX, 'a DNS label suffix (letters, digits, -)').toLowerCase(),
    storePort: reader.integer('STORE_PORT', 10901, 1, 65_535),
    listen: parseListenAddress(reader),
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    runOnce: reader.boolean('RUN_ONCE'),
    dryRun: reader.boolean('DRY_RUN'),
    restartMode: reader.oneOf('RESTART_MODE', RESTART_MODES, 'annotation'),
    outputFormat,
    endpointSettings: parseEndpointSettings(reader, outputFormat),
    alertRepeatMs: reader.integer('ALERT_REPEAT_SECONDS', 900, 0, 7 * 86_400) * 1000,
    removal: parseRemovalPolicy(reader),
    restartMinIntervalMs: reader.integer('RESTART_MIN_INTERVAL_SECONDS', 300, 0, 86_400) * 1000,
    restartRevertLimit: reader.integer('RESTART_REVERT_LIMIT', 3, 1, 1_000),
    leaderElection: parseLeaderElection(reader, env),
    delivery: parseDelivery(reader),
    sources: parseSources(reader, env, namespace, readText),
  };
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return config;
}

/** What the start-up log line says of the settings; never the webhook URL or credentials. */
export function configSummary(config: Config): Record<string, unknown> {
  return {
    zones: config.zones,
    sources: config.sources?.list.map((source) => source.name),
    namespace: config.namespace,
    configMap: config.configMapName,
    deployment: config.deploymentName,
    pollIntervalMs: config.pollIntervalMs,
    restartMode: config.restartMode,
    outputFormat: config.outputFormat,
    dryRun: config.dryRun,
    runOnce: config.runOnce,
    alerts: config.alertsHook ? 'on' : 'off (MATTERMOST_ALERTS_HOOK unset)',
    deliveryCheck: config.delivery ? 'on' : 'off (THANOS_QUERY_URL unset)',
  };
}
