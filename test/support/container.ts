// The image as a container runtime runs it: built by `npm run image`'s script, run by podman with the project's
// containers.conf (runc, cgroupfs, this host's ulimits, host network), and the pod settings of the chart turned into
// podman flags.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { V1PodSpec } from '@kubernetes/client-node';
import { runTool, type ToolResult } from './tools.ts';

const SCRIPTS = fileURLToPath(new URL('../../scripts/image/', import.meta.url));
const CONTAINERS_CONF = `${SCRIPTS}containers.conf`;
// A cold build makes the stand-in bases first (debootstrap: minutes); a warm one reuses every layer.
export const IMAGE_BUILD_TIMEOUT_MS = 20 * 60_000;

export function podman(args: readonly string[]): Promise<ToolResult> {
  return runTool('podman', args, { ...process.env, CONTAINERS_CONF });
}

/** Runs podman and returns its stdout, trimmed; throws with its stderr when it fails. */
export async function podmanOk(args: readonly string[]): Promise<string> {
  const result = await podman(args);
  if (result.code !== 0) throw new Error(`podman ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  return result.stdout.trim();
}

/** The container's last log lines, for a failure message (synchronous: waitFor's context is). */
export function logTail(name: string, lines = 40): string {
  const result = spawnSync('podman', ['logs', '--tail', String(lines), name], {
    env: { ...process.env, CONTAINERS_CONF },
    encoding: 'utf8',
  });
  return `container ${name}, last log lines:\n${result.stdout}${result.stderr}`;
}

/** `npm run image`'s build; resolves the image ID, which stays this build's even if another checkout re-tags the name. */
export async function buildImage(): Promise<string> {
  const result = await runTool('bash', [`${SCRIPTS}build.sh`]);
  const id = /^id=(\S+)$/m.exec(result.stdout)?.[1];
  if (result.code !== 0 || id === undefined) throw new Error(`npm run image failed (${result.code}):\n${result.stderr.slice(-4000)}`);
  return id;
}

/**
 * The podman flags for what the chart's pod spec asks of its first container: the user, a read-only root with the
 * emptyDir volumes writable (podman's own tmpfs mounts of a read-only container are turned off), no capabilities,
 * no privilege escalation. Fails on a setting it does not know how to carry out, so the chart cannot drift silently.
 */
export function chartPodFlags(pod: V1PodSpec): string[] {
  const container = pod.containers[0];
  if (container === undefined) throw new Error('the pod has no container');
  const user = { ...pod.securityContext, ...container.securityContext };
  if (user.runAsUser === undefined) throw new Error('the chart sets no runAsUser');
  const flags = ['--user', `${user.runAsUser}:${user.runAsGroup ?? user.runAsUser}`];
  if (container.securityContext?.readOnlyRootFilesystem) flags.push('--read-only', '--read-only-tmpfs=false');
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    if (volume?.emptyDir === undefined) throw new Error(`volume ${mount.name}: only emptyDir is carried out here`);
    flags.push('--tmpfs', mount.mountPath);
  }
  for (const cap of container.securityContext?.capabilities?.drop ?? []) flags.push('--cap-drop', cap);
  if (container.securityContext?.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  return flags;
}

/** `-e NAME=VALUE` for each variable. */
export function envFlags(env: Record<string, string>): string[] {
  return Object.entries(env).flatMap(([name, value]) => ['-e', `${name}=${value}`]);
}
