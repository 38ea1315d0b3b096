import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

/** Where a pod finds its ServiceAccount token and the cluster's CA. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
// Bound ServiceAccount tokens rotate (the kubelet refreshes the file well before expiry); client-go rereads it
// every minute, and so do we.
const TOKEN_REREAD_MS = 60_000;
// An exec plugin's token is reused until this long before the expiry it states.
const EXEC_EXPIRY_MARGIN_MS = 30_000;

/** Where and how to reach the API server: its URL, TLS material, and the credential for each request. */
export interface KubeConnection {
  server: URL;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTlsVerify: boolean;
  /** The name the server's certificate must carry, when it is not the server URL's host (kubeconfig `tls-server-name`). */
  tlsServerName?: string;
  /** The Authorization header for the next request, undefined with client certificates; read fresh as tokens rotate. */
  authorization(): Promise<string | undefined>;
}

/** The credentials could not be loaded; the message names the setting and the file. */
export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

/** In-cluster ServiceAccount in production; `DEVELOPER_MODE=true` uses `KUBECONFIG` or `~/.kube/config`, as the older tool did. */
export function loadConnection(developerMode: boolean, env: NodeJS.ProcessEnv = process.env): KubeConnection {
  return developerMode ? kubeconfigConnection(env) : inClusterConnection(env);
}

export function inClusterConnection(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): KubeConnection {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) {
    throw new KubeConfigError('not running in a cluster (KUBERNETES_SERVICE_HOST unset); set DEVELOPER_MODE=true to use a kubeconfig');
  }
  const tokenFile = join(dir, 'token');
  return {
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    ca: readOrExplain(join(dir, 'ca.crt'), 'the ServiceAccount CA'),
    insecureSkipTlsVerify: false,
    authorization: bearerFromFile(tokenFile, 'the ServiceAccount token'),
  };
}

interface KubeconfigFile {
  path: string;
  document: {
    'current-context'?: string;
    clusters?: Array<{ name: string; cluster?: Record<string, unknown> }>;
    users?: Array<{ name: string; user?: Record<string, unknown> }>;
    contexts?: Array<{ name: string; context?: { cluster?: string; user?: string } }>;
  };
}

/**
 * The current context of `KUBECONFIG` (a list of files: the first to set a name wins, as kubectl merges them) or
 * of `~/.kube/config`. Certificates and tokens inline or in files, and exec credential plugins (as EKS and GKE
 * kubeconfigs use); the older auth-provider entries are refused with a message.
 */
export function kubeconfigConnection(env: NodeJS.ProcessEnv): KubeConnection {
  const paths = (env['KUBECONFIG'] ?? '').split(delimiter).filter(Boolean);
  const files = (paths.length > 0 ? paths : [join(env['HOME'] ?? homedir(), '.kube', 'config')]).flatMap((path) => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return [];
    }
    return [{ path, document: (parse(text) ?? {}) as KubeconfigFile['document'] }];
  });
  const contextName = files.map((file) => file.document['current-context']).find(Boolean);
  if (!contextName) throw new KubeConfigError('DEVELOPER_MODE=true but no current context in KUBECONFIG or ~/.kube/config');
  const context = findNamed(files, 'contexts', contextName)?.entry.context;
  const cluster = findNamed(files, 'clusters', context?.cluster ?? '');
  const server = cluster?.entry.cluster?.['server'];
  if (cluster === undefined || typeof server !== 'string' || !URL.canParse(server)) {
    throw new KubeConfigError(`DEVELOPER_MODE=true but the kubeconfig's context ${contextName} names no cluster with a valid server URL`);
  }
  const user = findNamed(files, 'users', context?.user ?? '');
  const settings = { ...cluster.entry.cluster, ...user?.entry.user };
  const material = (name: string, origin: string): Buffer | undefined => {
    const inline = settings[`${name}-data`];
    if (typeof inline === 'string') return Buffer.from(inline, 'base64');
    const file = settings[name];
    return typeof file === 'string' ? readOrExplain(besideKubeconfig(origin, file), name) : undefined;
  };
  if (cluster.entry.cluster?.['proxy-url'] !== undefined) {
    throw new KubeConfigError(`the kubeconfig cluster ${context?.cluster} uses a proxy-url, which is not supported`);
  }
  if (user?.entry.user?.['auth-provider'] !== undefined) {
    throw new KubeConfigError(`the kubeconfig user ${context?.user} uses an auth-provider, which is not supported; use an exec plugin`);
  }
  const cert = user === undefined ? undefined : material('client-certificate', user.path);
  const key = user === undefined ? undefined : material('client-key', user.path);
  const ca = material('certificate-authority', cluster.path);
  return {
    server: new URL(server),
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    insecureSkipTlsVerify: settings['insecure-skip-tls-verify'] === true,
    ...(typeof settings['tls-server-name'] === 'string' ? { tlsServerName: settings['tls-server-name'] } : {}),
    authorization: userAuthorization(settings, user?.path ?? ''),
  };
}

function userAuthorization(settings: Record<string, unknown>, origin: string): () => Promise<string | undefined> {
  const token = settings['token'];
  if (typeof token === 'string') return bearer(async () => token);
  const tokenFile = settings['tokenFile'];
  if (typeof tokenFile === 'string') {
    return bearerFromFile(besideKubeconfig(origin, tokenFile), 'tokenFile');
  }
  const exec = settings['exec'];
  if (typeof exec === 'object' && exec !== null) return bearer(execPluginToken(exec));
  return async () => undefined;
}

interface ExecSettings {
  command?: string;
  args?: string[];
  env?: Array<{ name: string; value: string }> | null;
  apiVersion?: string;
}

/** Runs the credential plugin (client.authentication.k8s.io ExecCredential) and reuses its token until it expires. */
function execPluginToken(exec: ExecSettings): () => Promise<string> {
  let cached: { token: string; expiresAt: number } | undefined;
  return async () => {
    if (cached !== undefined && Date.now() < cached.expiresAt - EXEC_EXPIRY_MARGIN_MS) return cached.token;
    if (!exec.command) throw new KubeConfigError('the kubeconfig exec plugin names no command');
    const apiVersion = exec.apiVersion ?? 'client.authentication.k8s.io/v1';
    const env = { ...process.env, ...Object.fromEntries((exec.env ?? []).map(({ name, value }) => [name, value])) };
    env['KUBERNETES_EXEC_INFO'] = JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: { interactive: false } });
    // Loaded only here: child_process costs 3 MB of memory, and in a cluster no plugin ever runs.
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { stdout } = await promisify(execFile)(exec.command, exec.args ?? [], { env, timeout: 30_000 });
    const status = (JSON.parse(stdout) as { status?: { token?: string; expirationTimestamp?: string } }).status;
    if (!status?.token) throw new KubeConfigError(`the kubeconfig exec plugin ${exec.command} returned no token`);
    const expiresAt = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Number.POSITIVE_INFINITY;
    cached = { token: status.token, expiresAt };
    return status.token;
  };
}

function bearer(token: () => Promise<string>): () => Promise<string> {
  return async () => `Bearer ${(await token()).trim()}`;
}

/** A token file's content as a bearer credential; read at start (a missing file stops the start) and every minute after. */
function bearerFromFile(path: string, what: string): () => Promise<string> {
  return bearer(rereadEvery(TOKEN_REREAD_MS, path, readOrExplain(path, what).toString()));
}

/** A path as the kubeconfig at `origin` names it: relative ones are relative to that file, as kubectl reads them. */
function besideKubeconfig(origin: string, file: string): string {
  return isAbsolute(file) ? file : join(dirname(origin), file);
}

/** The file's content, read again once it is `everyMs` old; the last good content when a reread fails. */
function rereadEvery(everyMs: number, path: string, first: string): () => Promise<string> {
  let content = first;
  let readAt = performance.now();
  return async () => {
    if (performance.now() - readAt < everyMs) return content;
    readAt = performance.now();
    content = await readFile(path, 'utf8').catch(() => content);
    return content;
  };
}

function readOrExplain(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new KubeConfigError(`cannot read ${what} at ${path}: ${(error as Error).message}`);
  }
}

function findNamed<K extends 'clusters' | 'users' | 'contexts'>(
  files: KubeconfigFile[],
  list: K,
  name: string,
): { path: string; entry: NonNullable<KubeconfigFile['document'][K]>[number] } | undefined {
  for (const file of files) {
    const entry = file.document[list]?.find((candidate) => candidate.name === name);
    if (entry !== undefined) return { path: file.path, entry };
  }
  return undefined;
}
