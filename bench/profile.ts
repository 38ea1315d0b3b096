// Where the CPU of a RUN_ONCE run and of polling goes, by package: `npm run bench:profile [endpoints]` (polling at
// 700 endpoints unless told). Builds the bundle without
// minifying (esbuild then marks where each bundled file starts), runs it against the real peers with V8's sampling
// profiler and the chart's flags, and sums each sample's own time under the package its line belongs to.
// Results: bench/results/profile.json (profile-<endpoints>.json for another size). The profiler slows the process, so compare the shares, not the seconds, with
// bench/results/real-peers.json.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from '../scripts/bundle-options.ts';
import { runOnce, soak, startPeers, type Variant } from './real-peers.ts';

const CHART_FLAGS = ['--max-old-space-size=96', '--max-semi-space-size=1', '--single-threaded'];
const SOAK_POLLS = 30;
const POLL_ENDPOINTS = Number(process.argv[2] ?? 700);
if (!Number.isInteger(POLL_ENDPOINTS) || POLL_ENDPOINTS < 1) throw new Error(`endpoints must be a whole number, not ${process.argv[2]}`);

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

const dir = await mkdtemp(join(tmpdir(), 'tsd-profile-'));
const script = join(dir, 'main.js');
await build({ ...BUNDLE_OPTIONS, minifyWhitespace: false, minifySyntax: false, entryPoints: ['src/main.ts'], outfile: script });
const owners = fileOwners(readFileSync(script, 'utf8'));

const peers = await startPeers();
const report: Record<string, unknown> = { node: process.version, date: new Date().toISOString(), flags: CHART_FLAGS };
try {
  const once = profiled('run-once', dir);
  await runOnce(peers, once.variant, 700);
  report['runOnce'] = breakdown(newest(once.dir), owners);
  const polling = profiled('polling', dir);
  await soak(peers, polling.variant, POLL_ENDPOINTS, SOAK_POLLS, 1);
  report['polling'] = { polls: SOAK_POLLS, endpoints: POLL_ENDPOINTS, ...breakdown(newest(polling.dir), owners) };
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}
const out = fileURLToPath(new URL(`./results/${POLL_ENDPOINTS === 700 ? 'profile' : `profile-${POLL_ENDPOINTS}`}.json`, import.meta.url));
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
console.log(`results written to ${out}`);

function profiled(name: string, parent: string): { variant: Variant; dir: string } {
  const profiles = join(parent, name);
  return { dir: profiles, variant: { name, script, nodeArgs: [...CHART_FLAGS, '--cpu-prof', `--cpu-prof-dir=${profiles}`] } };
}

/** The profile of the last process run: runOnce runs the bundle several times, each writing its own. */
function newest(profiles: string): CpuProfile {
  const last = readdirSync(profiles).sort().at(-1);
  if (last === undefined) throw new Error(`no profile written in ${profiles}`);
  return JSON.parse(readFileSync(join(profiles, last), 'utf8')) as CpuProfile;
}

/** For each line of the bundle, the package (or our own file) it came from, by esbuild's `// path` markers. */
function fileOwners(source: string): (line: number) => string {
  const starts: Array<{ line: number; owner: string }> = [];
  source.split('\n').forEach((text, line) => {
    const marker = /^\/\/ (\S+\.(?:[cm]?js|ts|json))$/.exec(text)?.[1];
    if (marker === undefined) return;
    const inModules = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(marker)?.[1];
    starts.push({ line, owner: inModules ?? marker });
  });
  return (line) => {
    let owner = 'bundle glue';
    for (const start of starts) {
      if (start.line > line) break;
      owner = start.owner;
    }
    return owner;
  };
}

/** Busy milliseconds by owner (V8's own entries such as the garbage collector kept apart), largest first. */
function breakdown(profile: CpuProfile, owner: (line: number) => string): { busyMs: number; byOwnerMs: Record<string, number> } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const frame = nodes.get(id)!;
    const name =
      frame.url.endsWith('main.js') && frame.lineNumber >= 0
        ? owner(frame.lineNumber)
        : frame.url.startsWith('node:')
          ? 'node built-in modules'
          : frame.functionName || '(native)';
    totals.set(name, (totals.get(name) ?? 0) + profile.timeDeltas[index]! / 1000);
  });
  totals.delete('(idle)');
  const sorted = [...totals].sort((a, b) => b[1] - a[1]);
  return {
    busyMs: Math.round(sorted.reduce((sum, [, ms]) => sum + ms, 0)),
    byOwnerMs: Object.fromEntries(sorted.filter(([, ms]) => ms >= 1).map(([name, ms]) => [name, Math.round(ms)])),
  };
}
