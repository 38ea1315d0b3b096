// The README's quick start (`npm run demo`) end to end, unattended: the scripted steps show up in its output, it
// stops cleanly by itself (DEMO_EXIT_AFTER_SECONDS) or on a Ctrl-C, and leaves no process or temp dir behind.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '../support/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_TIMEOUT_MS = 240_000;
const PROC_SAMPLE_MS = 200;
const OUTPUT_TAIL_LINES = 60;
const ZONE = 'internal.example.com';
// As published: an absolute name (trailing dot) and the store port.
const store = (n: number): string => `cluster-${n}-grpc.${ZONE}.:10901`;

interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot: with the pid, names one process even after the pid is reused. */
  start: string;
  state: string;
  command: string;
}

function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which sits in parentheses and may itself hold spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, ppid: Number(fields[1]), start: fields[19] ?? '', state: fields[0] ?? '', command };
  } catch {
    return undefined;
  }
}

function descendantsOf(root: number): ProcessInfo[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readProcess(Number(name)) ?? []);
  const found: ProcessInfo[] = [];
  const parents = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const proc of all) {
      if (parents.has(proc.ppid) && !parents.has(proc.pid)) {
        parents.add(proc.pid);
        found.push(proc);
        grew = true;
      }
    }
  }
  return found;
}

function stillRunning(proc: ProcessInfo): boolean {
  const now = readProcess(proc.pid);
  return now !== undefined && now.start === proc.start && now.state !== 'Z';
}

interface DemoRun {
  child: ChildProcess;
  output(): string;
  /** Every process that ran under the demo, sampled while it ran. */
  seen(): ProcessInfo[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node scripts/demo.ts` in its own process group, as `npm run demo` runs it after the build. */
function startDemo(env: Record<string, string>): DemoRun {
  const child = spawn(process.execPath, ['--experimental-strip-types', join(ROOT, 'scripts', 'demo.ts')], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', LOG_LEVEL: 'info', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const seen = new Map<string, ProcessInfo>();
  const sample = (): void => {
    if (child.pid === undefined) return;
    for (const proc of descendantsOf(child.pid)) {
      // The latest look wins (a fork shows its parent's command until it execs), except once the process has exited:
      // a zombie's command line reads empty.
      if (proc.state !== 'Z' && proc.command !== '') seen.set(`${proc.pid}/${proc.start}`, proc);
    }
  };
  const sampler = setInterval(sample, PROC_SAMPLE_MS);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      clearInterval(sampler);
      resolve({ code, signal });
    });
  });
  return { child, output: () => output, seen: () => [...seen.values()], exited };
}

/** The file_sd targets of every ConfigMap the demo printed, in order. */
function printedTargets(output: string): string[][] {
  const blocks = output.matchAll(/ConfigMap monitoring\/thanos-store-sd, key servicediscovery\.yml:\n((?: {6}.*\n)+)/g);
  return [...blocks].map((match) => [...(match[1] ?? '').matchAll(/^ +- (\S+:\d+)$/gm)].map((target) => target[1] ?? ''));
}

function printedThanosStores(output: string): string[][] {
  const blocks = output.matchAll(/Thanos Query \(GET \/api\/v1\/stores\) lists \d+ stores, all healthy .*\n((?: {4}\S.*\n)+)/g);
  return [...blocks].map((match) =>
    (match[1] ?? '')
      .trim()
      .split('\n')
      .map((line) => line.trim()),
  );
}

function printedHashes(output: string): string[] {
  return [...output.matchAll(/thanos-store-discovery\/endpoints-hash: (\S+)/g)].map((match) => match[1] ?? '');
}

function removedDirs(output: string): string[] {
  return /^> removed (.+)$/m.exec(output)?.[1]?.split(', ') ?? [];
}

/** Nothing the demo started may outlive it; the peers must have been among what it started. */
async function expectNothingLeftBehind(run: DemoRun): Promise<void> {
  const seen = run.seen();
  const commands = seen.map((proc) => proc.command).join('\n');
  for (const peer of ['etcd', 'kube-apiserver', 'moto_server', join('dist', 'main.js')]) expect(commands).toContain(peer);
  await waitFor(
    () => seen.every((proc) => !stillRunning(proc)),
    'every process of the demo to be gone',
    10_000,
    () =>
      seen
        .filter(stillRunning)
        .map((proc) => `${proc.pid} ${proc.command}`)
        .join('\n'),
  );
}

/**
 * Exit 0 after the controller's own clean shutdown (its log shows `signal`), which came before the peers were
 * stopped; every temp dir removed and no process left.
 */
async function expectCleanStop(run: DemoRun, reason: string, signal: NodeJS.Signals): Promise<void> {
  const exit = await run.exited;
  const output = run.output();
  // The end of the output rides along so a failure shows what the demo said.
  const tail = output.split('\n').slice(-OUTPUT_TAIL_LINES).join('\n');
  expect({ ...exit, tail }).toEqual({ code: 0, signal: null, tail: expect.any(String) });
  expect(output).toContain(`=== Stopping (${reason})`);
  const stop = output.slice(output.indexOf(`=== Stopping (${reason})`));
  expect(stop).toMatch(new RegExp(`info +shutting down signal=${signal}\n(.*\n)*  \\S+ info +stopped\n`));
  expect(stop).toMatch(/> the controller exited with code 0 .*\n> stopping kube-apiserver, etcd and moto\n/);
  expect(stop).toMatch(/> done\n$/);
  expect(removedDirs(output)).toHaveLength(3);
  for (const dir of removedDirs(output)) expect(existsSync(dir)).toBe(false);
  await expectNothingLeftBehind(run);
}

describe('npm run demo', () => {
  let run: DemoRun | undefined;

  beforeAll(async () => {
    // What `npm run demo` does before the script: the demo runs the built controller.
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'build.ts')], { cwd: ROOT });
  });

  afterEach(async () => {
    if (run?.child.pid !== undefined && run.child.exitCode === null && run.child.signalCode === null) {
      process.kill(-run.child.pid, 'SIGKILL');
      await run.exited;
    }
    run = undefined;
  });

  it(
    'runs the scripted steps, shows each published list, and stops by itself with DEMO_EXIT_AFTER_SECONDS',
    async () => {
      run = startDemo({ DEMO_EXIT_AFTER_SECONDS: '2' });
      await expectCleanStop(run, 'DEMO_EXIT_AFTER_SECONDS=2', 'SIGTERM');
      const output = run.output();

      expect(printedTargets(output)).toEqual([
        [store(1), store(2), store(3)],
        [store(1), store(2), store(3), store(4)],
        [store(1), store(3), store(4)],
      ]);
      // The real Thanos Query (a new pod per rollout) listed each published set, healthy.
      expect(printedThanosStores(output)).toEqual([
        [store(1), store(2), store(3)],
        [store(1), store(2), store(3), store(4)],
        [store(1), store(3), store(4)],
      ]);
      // Each change rolled the Deployment once, with a hash of its own.
      expect(new Set(printedHashes(output)).size).toBe(3);
      // The controller's JSON log is shown pretty-printed, as `HH:MM:SS level message key=value`.
      expect(output).toMatch(/^ {2}\d\d:\d\d:\d\d info +ConfigMap written .*added=\[cluster-4-grpc\.internal\.example\.com:10901\]/m);
      expect(output).toMatch(/^ {2}\d\d:\d\d:\d\d info +ConfigMap written .*removed=\[cluster-2-grpc\.internal\.example\.com:10901\]/m);
      expect(output).toMatch(/curl -s http:\/\/127\.0\.0\.1:\d+\/readyz/);
      expect(output).toMatch(/KUBECONFIG=\S+kubeconfig\.yaml kubectl get cm -n monitoring/);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'stops in order on a Ctrl-C, which reaches every process of the terminal at once',
    async () => {
      run = startDemo({});
      const current = run;
      await waitFor(
        () => current.output().includes('press Ctrl-C'),
        'the demo to finish its scripted steps',
        RUN_TIMEOUT_MS / 2,
        () => current.output(),
      );
      // A terminal sends SIGINT to the whole foreground process group: the demo, the controller and the peers.
      process.kill(-current.child.pid!, 'SIGINT');
      await expectCleanStop(current, 'Ctrl-C', 'SIGINT');
    },
    RUN_TIMEOUT_MS,
  );
});
