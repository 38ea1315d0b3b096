// What each dependency costs at rest, bundled as the controller ships (esbuild, ESM, node24) and run with the chart's
// flags: resident memory 2 s after loading, and the CPU seconds loading took. Explains the floor of the memory
// figures in bench/results/real-peers.json. Results: bench/results/import-cost.json.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from '../scripts/bundle-options.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FLAGS = ['--max-old-space-size=96', '--max-semi-space-size=1', '--single-threaded'];

// Every module src/main.ts imports, loaded but not started: the floor of any run, RUN_ONCE included. Read from
// main.ts itself, so the list follows its imports.
const CONTROLLER_MODULES = [...readFileSync(join(ROOT, 'src', 'main.ts'), 'utf8').matchAll(/^import .* from '\.\/(.+)';$/gm)].map(
  (match) => match[1]!,
);

// Each entry keeps what it imports reachable, so the bundler cannot drop it.
const ENTRIES: Record<string, string> = {
  'node alone': 'globalThis.kept = [];',
  "client-node's KubeConfig + Watch":
    "import { KubeConfig, Watch } from '@kubernetes/client-node'; globalThis.kept = [new KubeConfig(), Watch];",
  "client-node's KubeConfig + Watch + the generated Core, Apps and Coordination APIs":
    "import { KubeConfig, Watch, CoreV1Api, AppsV1Api, CoordinationV1Api } from '@kubernetes/client-node'; globalThis.kept = [new KubeConfig(), Watch, CoreV1Api, AppsV1Api, CoordinationV1Api];",
  // Node's TLS stack, which the Kubernetes client and the AWS SDK both load.
  'node:https': "import https from 'node:https'; globalThis.kept = [https.request];",
  // The controller's Kubernetes client (src/kube): client-node's KubeConfig, Watch and generated APIs behind KubeApi.
  "the controller's Kubernetes client (src/kube, on client-node)":
    "import { createKubeApi } from './src/kube/api.ts'; import { loadKubeConfig } from './src/kube/config.ts'; import { createWatch } from './src/kube/watch.ts'; globalThis.kept = [createKubeApi, loadKubeConfig, createWatch];",
  'AWS SDK Route53 client + ListResourceRecordSets':
    "import { Route53Client, ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53'; globalThis.kept = [new Route53Client({ region: 'us-east-1' }), ListResourceRecordSetsCommand];",
  'prom-client (default metrics) + winston':
    "import { Registry, collectDefaultMetrics } from 'prom-client'; import winston from 'winston'; const r = new Registry(); collectDefaultMetrics({ register: r }); globalThis.kept = [r, winston.createLogger()];",
  'everything the controller imports, not started':
    CONTROLLER_MODULES.map((module, i) => `import * as m${i} from './src/${module}';`).join(' ') +
    ` globalThis.kept = [${CONTROLLER_MODULES.map((_, i) => `m${i}`).join(', ')}];`,
  'yaml + p-retry + p-throttle':
    "import { parse } from 'yaml'; import pRetry from 'p-retry'; import pThrottle from 'p-throttle'; globalThis.kept = [parse, pRetry, pThrottle];",
};

// Runs after the bundle has loaded: memory once the start-up garbage had a chance to go, CPU spent so far.
const REPORT = `setTimeout(() => { const s = process.getBuiltinModule('node:fs').readFileSync('/proc/self/status', 'utf8'); const u = process.cpuUsage();
  console.log(JSON.stringify({ rssMb: Number(/VmRSS:\\s+(\\d+)/.exec(s)[1]) / 1024, cpuSeconds: (u.user + u.system) / 1e6 })); }, 2000);`;

const dir = await mkdtemp(join(tmpdir(), 'tsd-import-cost-'));
const results: { entry: string; bundleKb: number; rssMb: number; cpuSeconds: number }[] = [];
try {
  for (const [name, source] of Object.entries(ENTRIES)) {
    const outfile = join(dir, `${results.length}.mjs`);
    const output = await build({
      stdin: { contents: source, resolveDir: ROOT, loader: 'js' },
      ...BUNDLE_OPTIONS,
      outfile,
      footer: { js: REPORT },
      metafile: true,
    });
    const bytes = Object.values(output.metafile.outputs)[0]?.bytes ?? 0;
    // Median of three runs: one process start is noisy on a shared machine.
    const runs = [0, 1, 2].map(() => {
      const run = spawnSync(process.execPath, [...FLAGS, outfile], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`${name}: ${run.stderr}`);
      return JSON.parse(run.stdout.trim()) as { rssMb: number; cpuSeconds: number };
    });
    const median = (pick: (r: { rssMb: number; cpuSeconds: number }) => number) => runs.map(pick).sort((a, b) => a - b)[1]!;
    results.push({
      entry: name,
      bundleKb: Math.round(bytes / 1024),
      rssMb: Number(median((r) => r.rssMb).toFixed(1)),
      cpuSeconds: Number(median((r) => r.cpuSeconds).toFixed(3)),
    });
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const base = results[0]!;
for (const r of results) {
  console.log(
    `${r.entry.padEnd(84)} ${String(r.bundleKb).padStart(6)} KB  rss ${r.rssMb.toFixed(1).padStart(6)} MB (+${(r.rssMb - base.rssMb).toFixed(1)})  cpu ${r.cpuSeconds.toFixed(3)} s`,
  );
}
const out = fileURLToPath(new URL('./results/import-cost.json', import.meta.url));
writeFileSync(out, `${JSON.stringify({ node: process.version, date: new Date().toISOString(), flags: FLAGS, results }, null, 2)}\n`);
console.log(`results written to ${out}`);
