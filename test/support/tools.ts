// Runs the real command-line peers (helm, promtool) to completion and hands back what they printed.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { resolvePeerBinaries } from '../peers/binaries.ts';

export const CHART = fileURLToPath(new URL('../../charts/thanos-store-discovery', import.meta.url));
export const VALID_VALUES = join(CHART, 'ci/default-values.yaml');
// The first build of helm, etcd or kube-apiserver takes minutes, and another process may hold the build lock.
export const PEER_BUILD_TIMEOUT_MS = 20 * 60_000;

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Runs `path args`; a non-zero exit is a result, not an error (the tests assert on it). */
export function runTool(path: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(path, args, { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(new Error(`could not run ${path}`, { cause: error }));
      else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
    });
  });
}

export interface Helm {
  run(args: readonly string[]): Promise<ToolResult>;
  /**
   * `helm template <release> <chart> --namespace <namespace> -f <valid values> ...args`; throws with helm's stderr when
   * helm fails or warns (a warning from our own chart is a defect of it).
   */
  template(release: string, namespace: string, ...args: string[]): Promise<Manifest[]>;
  /** The same without the valid values file: `args` give every value. */
  templateAlone(release: string, namespace: string, ...args: string[]): Promise<Manifest[]>;
  /** Removes helm's private cache, config and data directories. */
  close(): Promise<void>;
}

/** The real helm binary, with its cache, config and data kept out of the user's home. */
export async function createHelm(): Promise<Helm> {
  const helmPath = (await resolvePeerBinaries(['helm'])).helm;
  const home = await mkdtemp(join(tmpdir(), 'tsd-helm-home-'));
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    KUBECACHEDIR: join(home, 'kube-cache'),
  };
  const run = (args: readonly string[]) => runTool(helmPath, args, env);
  const templateAlone = async (release: string, namespace: string, ...args: string[]) => {
    const result = await run(['template', release, CHART, '--namespace', namespace, ...args]);
    if (result.code !== 0 || result.stderr !== '') throw new Error(`helm template failed or warned (${result.code}):\n${result.stderr}`);
    return parseAllDocuments(result.stdout)
      .map((doc) => doc.toJS() as Manifest | null)
      .filter((doc): doc is Manifest => doc !== null);
  };
  return {
    run,
    template: (release, namespace, ...args) => templateAlone(release, namespace, '-f', VALID_VALUES, ...args),
    templateAlone,
    close: () => rm(home, { recursive: true, force: true }),
  };
}

/**
 * For a test file: makes helm in a beforeAll and removes its home in an afterAll (call at the top of a describe or
 * the file); what it returns runs helm inside the tests.
 */
export function helmForTests(): Omit<Helm, 'close'> {
  let helm: Helm | undefined;
  beforeAll(async () => {
    helm = await createHelm();
  }, PEER_BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await helm?.close();
  });
  const made = (): Helm => {
    if (helm === undefined) throw new Error('helm is made in beforeAll: run it inside a test');
    return helm;
  };
  return {
    run: (args) => made().run(args),
    template: (...args) => made().template(...args),
    templateAlone: (...args) => made().templateAlone(...args),
  };
}

/** `helm install <release> <chart> --namespace <namespace> --kubeconfig <path> -f <valid values> ...args`. */
export function chartInstallArgs(release: string, namespace: string, kubeconfigPath: string, ...args: string[]): string[] {
  return ['install', release, CHART, '--namespace', namespace, '--kubeconfig', kubeconfigPath, '-f', VALID_VALUES, ...args];
}

/** `--set key=value` arguments for helm, one pair per entry. */
export function setValues(values: Record<string, string | number | boolean>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--set', `${key}=${value}`]);
}

/** The one manifest of `kind`; throws when there are none or several. */
export function only<T>(manifests: readonly Manifest[], kind: string): T {
  const found = manifests.filter((m) => m.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, rendered ${found.length}`);
  return found[0] as unknown as T;
}
