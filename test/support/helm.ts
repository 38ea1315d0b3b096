// The real helm binary the peer build makes, run with its cache, config and data in a temp dir of its own.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePeerBinaries } from '../peers/binaries.ts';

export const CHART = fileURLToPath(new URL('../../charts/thanos-store-discovery', import.meta.url));
export const VALID_VALUES = join(CHART, 'ci/default-values.yaml');
// The first build of helm, etcd or kube-apiserver takes minutes, and another process may hold the build lock.
export const PEER_BUILD_TIMEOUT_MS = 20 * 60_000;

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface Helm {
  /** Runs helm with `args`; resolves with its exit code and output, whatever the code. */
  run(args: readonly string[]): Promise<HelmResult>;
  /** Removes helm's home. */
  remove(): Promise<void>;
}

/** Builds helm if it is not cached yet (call in a beforeAll with PEER_BUILD_TIMEOUT_MS). */
async function createHelm(): Promise<Helm> {
  const helmPath = (await resolvePeerBinaries(['helm'])).helm;
  // Keep helm's cache, config and data out of the user's home.
  const home = await mkdtemp(join(tmpdir(), 'tsd-helm-home-'));
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
  return {
    run: (args) =>
      new Promise((resolve, reject) => {
        execFile(helmPath, args, { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
          if (error !== null && typeof error.code !== 'number') reject(error);
          else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
        });
      }),
    remove: () => rm(home, { recursive: true, force: true }),
  };
}

/**
 * For a test file: builds helm in a beforeAll and removes its home in an afterAll (call at the top of a describe or
 * the file); the function it returns runs helm inside the tests.
 */
export function helmForTests(): (args: readonly string[]) => Promise<HelmResult> {
  let helm: Helm | undefined;
  beforeAll(async () => {
    helm = await createHelm();
  }, PEER_BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await helm?.remove();
  });
  return (args) => {
    if (helm === undefined) throw new Error('helm is built in beforeAll: run it inside a test');
    return helm.run(args);
  };
}
