// `npm run bench`, second half: the built bundle (dist/main.js) as its own process against the real peers, with the
// flags the chart passes by default, beside the goals of issue 8 and the older CronJob's figures.
// Results: bench/results/real-peers.json. All parts take about 22 minutes on the 2-core machine; one part can be run
// again alone (`node bench/peers.ts quiet`), and the file keeps the other parts from their last run, each dated.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  BUNDLE,
  bundleSizeMb,
  CHART_NODE_ARGS,
  quiet,
  runOnce,
  soak,
  startPeers,
  type QuietResult,
  type RunOnceResult,
  type SoakResult,
  type Variant,
} from './real-peers.ts';

// As the image and chart run it for the chart's default 192Mi limit: values.yaml `node.flags`, a heap cap of half the
// limit, and the compile cache the Dockerfile makes.
const CHART_DEFAULT: Variant = {
  name: 'chart default',
  script: BUNDLE,
  nodeArgs: CHART_NODE_ARGS,
  compileCache: true,
};
const NO_CACHE: Variant = { ...CHART_DEFAULT, name: 'chart default without compile cache', compileCache: false };
// V8's interpreter only: less memory for more CPU (an opt-in through `node.flags`; the cache does not apply to it).
const LITE: Variant = { ...NO_CACHE, name: 'chart default + --lite-mode', nodeArgs: [...CHART_DEFAULT.nodeArgs, '--lite-mode'] };
// Node's defaults: what the image ran before the chart passed flags.
const NO_FLAGS: Variant = { name: 'no flags', script: BUNDLE, nodeArgs: [] };

const OLDER_TOOL = { rssMb: 37, cpuSecondsPerRun: 0.03 };
const SOAK_POLLS = 30; // 30 minutes of the default 60 s interval, polled every second.
const PARTS = ['soaks', 'runs', 'quiet'] as const;
type Part = (typeof PARTS)[number];

interface Report {
  soaks?: { date: string; loadAverage: number[]; results: SoakResult[] };
  runs?: { date: string; loadAverage: number[]; results: RunOnceResult[] };
  quiet?: { date: string; loadAverage: number[]; results: QuietResult };
  bundleMb?: number;
  node?: string;
  goals?: unknown;
}

const out = fileURLToPath(new URL('./results/real-peers.json', import.meta.url));
const selected = process.argv.slice(2).length > 0 ? (process.argv.slice(2) as Part[]) : [...PARTS];
const unknown = selected.filter((part) => !PARTS.includes(part));
if (unknown.length > 0) throw new Error(`unknown part ${unknown.join(', ')}; the parts are ${PARTS.join(', ')}`);
const report: Report = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Report) : {};
// Each result is printed as it comes: the whole run takes a while.
const shown = <T>(result: T): T => (console.log(JSON.stringify(result)), result);
const stamp = () => ({ date: new Date().toISOString(), loadAverage: loadavg().map((load) => Number(load.toFixed(2))) });

const peers = await startPeers();
try {
  if (selected.includes('soaks')) {
    const results: SoakResult[] = [];
    for (const endpoints of [700, 10_000, 20_000]) results.push(shown(await soak(peers, CHART_DEFAULT, endpoints, SOAK_POLLS, 1)));
    for (const variant of [NO_CACHE, LITE, NO_FLAGS]) results.push(shown(await soak(peers, variant, 700, SOAK_POLLS, 1)));
    report.soaks = { ...stamp(), results };
  }
  if (selected.includes('runs')) {
    const results: RunOnceResult[] = [];
    for (const endpoints of [700, 10_000]) results.push(shown(await runOnce(peers, CHART_DEFAULT, endpoints)));
    for (const variant of [NO_CACHE, LITE, NO_FLAGS]) results.push(shown(await runOnce(peers, variant, 700)));
    report.runs = { ...stamp(), results };
  }
  if (selected.includes('quiet')) report.quiet = { ...stamp(), results: shown(await quiet(peers, CHART_DEFAULT, 700, 6)) };
} finally {
  await peers.stop();
}
report.node = process.version;
report.bundleMb = bundleSizeMb();
report.goals = goals(report);
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`results written to ${out}`);

/** Each figure of issue 8 beside its goal and the older tool's figure; a part not run yet gives none. */
function goals(report: Report) {
  const rows: { figure: string; measured: number; goal?: number; met?: boolean; olderTool?: number }[] = [];
  const row = (figure: string, measured: number | undefined, goal?: number, olderTool?: number) => {
    if (measured === undefined) return;
    rows.push({
      figure,
      measured,
      ...(goal === undefined ? {} : { goal, met: measured <= goal }),
      ...(olderTool === undefined ? {} : { olderTool }),
    });
  };
  const at = (endpoints: number) => report.soaks?.results.find((s) => s.variant === CHART_DEFAULT.name && s.endpoints === endpoints);
  const once = report.runs?.results.find((r) => r.variant === CHART_DEFAULT.name && r.endpoints === 700);
  row('resident memory at rest, 700 endpoints (MB)', at(700)?.rssAtRestMb, 90, OLDER_TOOL.rssMb);
  row(`resident memory after ${SOAK_POLLS} polls, 700 endpoints (MB)`, at(700)?.rssAfterSoakMb, 90, OLDER_TOOL.rssMb);
  row(`resident memory after ${SOAK_POLLS} polls, 10k endpoints (MB)`, at(10_000)?.rssAfterSoakMb, 120);
  row(`resident memory after ${SOAK_POLLS} polls, 20k endpoints (MB)`, at(20_000)?.rssAfterSoakMb);
  row('CPU per RUN_ONCE run, 700 endpoints (s)', once?.cpuSeconds, 0.25, OLDER_TOOL.cpuSecondsPerRun);
  row('CPU per poll, 700 endpoints (s)', at(700)?.cpuSecondsPerPoll, 0.03, OLDER_TOOL.cpuSecondsPerRun);
  row('watch requests per informer per minute while quiet', report.quiet?.results.watchRequestsPerInformerPerMinute, 0.2, 0);
  row('Route53 calls per poll, 700 endpoints (702 record sets)', at(700)?.route53CallsPerPoll, 3);
  row('start to ready, 700 endpoints (s)', at(700)?.startToReadySeconds);
  for (const r of rows) {
    const verdict = r.goal === undefined ? '    ' : r.met ? 'ok  ' : 'MISS';
    console.log(
      `${verdict} ${r.figure.padEnd(58)} ${String(r.measured).padStart(8)}  goal ${String(r.goal ?? '-').padStart(5)}  older tool ${r.olderTool ?? '-'}`,
    );
  }
  return rows;
}
