import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PeerError } from './peer-error.ts';

export const PEER_NAMES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'node-runtime',
  'node-images',
  'helm',
  'helm-docs',
  'moto',
  'thanos',
  'kwok',
  'promtool',
  'prometheus',
  'prometheus-operator-crds',
] as const;
export type PeerName = (typeof PEER_NAMES)[number];

const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/peers/build.sh', import.meta.url));
// build.sh names each output after the executable it made; moto's is its server entry point, the CRDs' a directory.
// node-runtime and node-images print several lines (read them with resolvePeerOutputs); these are their first.
const OUTPUT_KEY: Record<PeerName, string> = {
  etcd: 'etcd',
  'kube-apiserver': 'kube-apiserver',
  'kube-controller-manager': 'kube-controller-manager',
  'kube-scheduler': 'kube-scheduler',
  kubelet: 'kubelet',
  'node-runtime': 'containerd',
  'node-images': 'pause-image',
  helm: 'helm',
  'helm-docs': 'helm-docs',
  moto: 'moto_server',
  thanos: 'thanos',
  kwok: 'kwok',
  promtool: 'promtool',
  prometheus: 'prometheus',
  'prometheus-operator-crds': 'prometheus-operator-crds',
};
const STDERR_TAIL_LINES = 30;

export interface ResolveOptions {
  /** Called with each stderr line of the build script (progress such as "[peers] building etcd ..."). */
  onLog?: (line: string) => void;
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function runBuildScript(
  names: readonly PeerName[],
  onLog: ((line: string) => void) | undefined,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT, ...names], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (onLog === undefined) return;
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLog(line);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (onLog !== undefined && pending !== '') onLog(pending);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Every `name=value` line scripts/peers/build.sh printed for the peers, which it builds and caches (waiting for a
 * build another process holds the lock for). Throws a PeerError naming the first peer that could not be built.
 */
export async function resolvePeerOutputs(names: readonly PeerName[], options: ResolveOptions = {}): Promise<Map<string, string>> {
  let result: Awaited<ReturnType<typeof runBuildScript>>;
  try {
    result = await runBuildScript(names, options.onLog);
  } catch (error) {
    throw new PeerError(names.join(', '), `could not run ${BUILD_SCRIPT}`, { cause: error });
  }
  const printed = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) printed.set(line.slice(0, at), line.slice(at + 1));
  }
  for (const name of names) {
    if (printed.has(OUTPUT_KEY[name])) continue;
    const how = result.code === 0 ? 'build.sh printed no path for it' : `build.sh exited with ${result.code}`;
    const stderr = tail(result.stderr, STDERR_TAIL_LINES);
    throw new PeerError(name, `could not be built (${how}); build.sh stderr:\n${stderr}`);
  }
  return printed;
}

/** Paths of the peers' executables (see resolvePeerOutputs). */
export async function resolvePeerBinaries<N extends PeerName>(
  names: readonly N[],
  options: ResolveOptions = {},
): Promise<Record<N, string>> {
  const printed = await resolvePeerOutputs(names, options);
  const paths = {} as Record<N, string>;
  for (const name of names) paths[name] = printed.get(OUTPUT_KEY[name]) as string;
  return paths;
}
