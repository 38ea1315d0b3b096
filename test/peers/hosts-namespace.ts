import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { PeerError } from './peer-error.ts';

/**
 * Names that resolve for one process only: the process runs in a mount namespace of its own (util-linux `unshare`,
 * which needs root, as the tests here have) where a generated hosts file is bind-mounted over /etc/hosts. The
 * machine's /etc/hosts is never touched. The bind mount follows the file's inode, so rewriting the file in place is
 * seen by the process (Go's resolver re-reads /etc/hosts when its modification time changes).
 */
export class HostsFile {
  readonly path: string;
  private readonly entries = new Map<string, string>();

  constructor(path: string) {
    this.path = path;
  }

  /** Maps `name` (with or without a trailing dot) to `address` and rewrites the file in place. */
  async set(name: string, address: string): Promise<void> {
    this.entries.set(name.replace(/\.$/, ''), address);
    const lines = [...this.entries].map(([host, ip]) => `${ip}\t${host}\n`);
    await writeFile(this.path, `127.0.0.1\tlocalhost\n${lines.join('')}`);
  }
}

let checked = false;

function requireUnshare(): void {
  if (checked) return;
  try {
    execFileSync('unshare', ['--mount', '--propagation', 'private', 'true'], { stdio: 'pipe' });
  } catch (error) {
    throw new PeerError('unshare', 'cannot make a private mount namespace (util-linux unshare, run as root)', { cause: error });
  }
  checked = true;
}

/** The command line that runs `command args` with `hosts` as its /etc/hosts. */
export function withPrivateHosts(hosts: HostsFile, command: string, args: readonly string[]): { command: string; args: string[] } {
  requireUnshare();
  const script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"';
  return { command: 'unshare', args: ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', hosts.path, command, ...args] };
}
