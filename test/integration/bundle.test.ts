import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInThisContext } from 'node:vm';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from '../../scripts/bundle-options.ts';
import { controllerEnv } from '../support/controller-process.ts';
import { expectedFileSd, readConfigMap, readDeployment, SD_KEY, templateHash } from '../support/thanos.ts';
import { aRecords, scenarioSuite } from '../support/scenario.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = (runInThisContext('process') as NodeJS.Process).execPath;

describe('the single-file bundle, as the image runs it', () => {
  const suite = scenarioSuite('bundle');
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsd-bundle-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'is one file that runs alone, with the chart flags, and converges the real peers in RUN_ONCE',
    suite.logged(async () => {
      const outfile = join(dir, 'main.mjs');
      await build({ ...BUNDLE_OPTIONS, entryPoints: [join(ROOT, 'src', 'main.ts')], outfile });
      expect(await readdir(dir)).toEqual(['main.mjs']);

      const hosts = ['a-grpc.bundle.example.com', 'b-grpc.bundle.example.com'];
      const { kubeConfig, namespace, zone } = await suite.prepare({
        prefix: 'bundle',
        domain: 'bundle.example.com',
        records: aRecords(hosts),
      });
      const env = controllerEnv({
        kubeconfigPath: suite.peers.controlPlane.kubeconfigPath,
        namespace,
        zones: [zone],
        // The fault proxy passes every request on to moto while no fault is queued.
        route53Endpoint: suite.peers.proxy.url,
        extra: { RUN_ONCE: 'true', LISTEN_ADDRESS: '127.0.0.1:0' },
      });
      // Run from a directory without node_modules, so nothing can be loaded from beside the bundle. Not spawnSync:
      // the fault proxy in front of moto lives in this process and must keep serving.
      const flags = ['--max-old-space-size=96', '--max-semi-space-size=1', '--single-threaded'];
      const run = await promisify(execFile)(NODE, [...flags, outfile], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });

      expect(run.stderr).toBe('');
      expect(run.stdout).toContain('run once finished');
      expect((await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY]).toBe(expectedFileSd(hosts));
      expect(templateHash(await readDeployment(kubeConfig, namespace))).toBeDefined();
    }),
  );
});
