import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runInThisContext } from 'node:vm';
import { PeerError } from './peer-error.ts';

const LOG_TAIL_LINES = 25;
const STOP_GRACE_MS = 5_000;
const PROBE_INTERVAL_MS = 100;

export interface PeerProcess {
  readonly peer: string;
  readonly logPath: string;
  readonly pid: number | undefined;
  /** Settles with the exit code (null when a signal ended it) once the process is gone. */
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
  /** Sends a signal without waiting, e.g. to test how the process handles it. */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  stop(): Promise<void>;
  logTail(lines?: number): string;
}

// Inside jest the global `process` is a per-file copy whose 'exit' and signal events never fire; the main context's
// `process` is the real one. The cleanups live on its global so every test file shares one set of hooks.
const hostProcess = runInThisContext('process') as NodeJS.Process;
const CLEANUPS = Symbol.for('thanos-store-discovery.peer-cleanups');

function cleanups(): Set<() => void> {
  const host = hostProcess as NodeJS.Process & { [CLEANUPS]?: Set<() => void> };
  const existing = host[CLEANUPS];
  if (existing !== undefined) return existing;
  const created = new Set<() => void>();
  host[CLEANUPS] = created;
  const runAll = (): void => {
    for (const cleanup of created) cleanup();
    created.clear();
  };
  hostProcess.once('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      runAll();
      // Only re-raise when no one else handles the signal, or the process would die under their handler.
      hostProcess.removeListener(signal, onSignal);
      if (hostProcess.listenerCount(signal) === 0) hostProcess.kill(hostProcess.pid, signal);
    };
    hostProcess.on(signal, onSignal);
  }
  return created;
}

/**
 * Runs `cleanup` (synchronously) if the test process exits or gets SIGINT/SIGTERM/SIGHUP before the returned
 * function is called. For a SIGKILL no hook runs; the reapers below cover that.
 */
function onAbnormalExit(cleanup: () => void): () => void {
  const registry = cleanups();
  registry.add(cleanup);
  return () => registry.delete(cleanup);
}

/**
 * Runs `command` (synchronously, from an exit hook, or from a reaper if the test process is killed) should the test
 * process end before the returned function is called; the owner calls it once it has cleaned up itself.
 */
export function cleanUpOnAbnormalExit(command: readonly string[]): () => void {
  const reaper = startReaper(command);
  const forget = onAbnormalExit(() => {
    spawnSync(command[0] as string, command.slice(1), { stdio: 'ignore' });
    stopReaper(reaper);
  });
  return () => {
    forget();
    stopReaper(reaper);
  };
}

const tempDirs = new Map<string, () => void>();

/** Removed by an exit hook or a reaper if the test process dies before its owner cleans up. */
export function trackTempDir(dir: string): void {
  tempDirs.set(dir, cleanUpOnAbnormalExit(['rm', '-rf', dir]));
}

export function removeTempDir(dir: string): void {
  tempDirs.get(dir)?.();
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A watchdog in its own process group that runs `command` once the test process is gone, even if it was killed with
 * SIGKILL and no exit hook ran.
 */
function startReaper(command: readonly string[]): ChildProcess {
  const script = 'tail --pid="$1" -f /dev/null; shift; "$@"';
  const reaper = spawn('sh', ['-c', script, 'reaper', String(hostProcess.pid), ...command], {
    detached: true,
    stdio: 'ignore',
  });
  reaper.unref();
  return reaper;
}

function stopReaper(reaper: ChildProcess): void {
  if (reaper.pid === undefined || reaper.exitCode !== null) return;
  try {
    hostProcess.kill(-reaper.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function readTail(logPath: string, lines: number): string {
  try {
    const text = readFileSync(logPath, 'utf8').trimEnd();
    return text === '' ? '(the log is empty)' : text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Rewrites a peer's command line, e.g. to start it in a network namespace of the run's own. */
export type WrapCommand = (command: string, args: readonly string[]) => { command: string; args: string[] };

/** Starts a peer with stdout and stderr appended to `logPath` (never to the test output). */
export function startPeerProcess(options: {
  peer: string;
  command: string;
  args: readonly string[];
  logPath: string;
  /** The whole environment of the process; the test process's own when omitted. */
  env?: NodeJS.ProcessEnv;
}): PeerProcess {
  const { peer, command, args, logPath, env } = options;
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ['ignore', fd, fd], ...(env ? { env } : {}) });
  } finally {
    closeSync(fd);
  }
  const reaper = child.pid === undefined ? undefined : startReaper(['kill', '-9', String(child.pid)]);
  const forget = onAbnormalExit(() => {
    child.kill('SIGKILL');
    if (reaper !== undefined) stopReaper(reaper);
  });
  let gone = false;
  const exited = new Promise<number | null>((resolve) => {
    const done = (code: number | null): void => {
      gone = true;
      forget();
      if (reaper !== undefined) stopReaper(reaper);
      resolve(code);
    };
    child.once('exit', (code) => done(code));
    child.once('error', () => done(null));
  });
  const logTail = (lines = LOG_TAIL_LINES): string => readTail(logPath, lines);
  return {
    peer,
    logPath,
    pid: child.pid,
    exited,
    hasExited: () => gone,
    kill: (signal) => void child.kill(signal),
    logTail,
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Polls `probe` until it returns true. Throws a PeerError with the end of the peer's log if the process exits or
 * `timeoutMs` passes first; the last probe error is the cause.
 */
export async function waitUntilReady(proc: PeerProcess, what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    if (proc.hasExited()) {
      const code = await proc.exited;
      throw new PeerError(proc.peer, `exited (code ${code}) before ${what}; last log lines:\n${proc.logTail()}`, {
        cause: lastError,
      });
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new PeerError(proc.peer, `not ${what} after ${timeoutMs} ms; last log lines:\n${proc.logTail()}`, {
        cause: lastError,
      });
    }
    await sleep(PROBE_INTERVAL_MS);
  }
}

/**
 * Starts a peer that keeps its files in `dir` (tracked: removed even if the tests die) and waits until `probe` says
 * it serves. Hands back the process and a stop() that also removes `dir`, safe to call more than once; a peer that
 * never gets ready is stopped before the error is thrown.
 */
export async function startPeerInDir(
  options: Parameters<typeof startPeerProcess>[0] & { dir: string; ready: string; probe: () => Promise<boolean>; timeoutMs: number },
): Promise<{ proc: PeerProcess; stop: () => Promise<void> }> {
  const { dir, ready, probe, timeoutMs, ...process } = options;
  trackTempDir(dir);
  const proc = startPeerProcess(process);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await proc.stop();
    removeTempDir(dir);
  };
  try {
    await waitUntilReady(proc, ready, probe, timeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return { proc, stop };
}
