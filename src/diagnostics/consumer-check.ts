import { matchesGlob, posix } from 'node:path';
import type { Container, Deployment, Volume, VolumeMount } from '../kube/types.ts';
import type { OutputFormat, RestartMode } from '../config.ts';

/**
 * Whether the Thanos Query Deployment can consume what the controller writes, read from its pod template alone
 * (pure: no I/O). Each problem has a stable reason, used as a metric label and an Event reason.
 */
export const CONSUMER_PROBLEMS = [
  'configmap-not-mounted',
  'subpath-mount',
  'flag-for-other-format',
  'flag-missing',
  'refresh-slower-than-poll',
] as const;
export type ConsumerProblemReason = (typeof CONSUMER_PROBLEMS)[number];

export interface ConsumerProblem {
  reason: ConsumerProblemReason;
  message: string;
}

export interface ConsumerExpectation {
  configMapName: string;
  configMapKey: string;
  format: OutputFormat;
  restartMode: RestartMode;
  pollIntervalMs: number;
}

/** The flag that reads each format's file, and the flag (with Thanos' default) that bounds how soon a change shows. */
const FORMAT_FLAGS: Record<OutputFormat, { file: string; refresh: string; refreshDefault: string }> = {
  'endpoint-config': { file: '--endpoint.sd-config-file', refresh: '--endpoint.sd-config-reload-interval', refreshDefault: '5m' },
  file_sd: { file: '--store.sd-files', refresh: '--store.sd-dns-interval', refreshDefault: '30s' },
};

export function checkConsumer(deployment: Deployment, expected: ConsumerExpectation): ConsumerProblem[] {
  const spec = deployment.spec?.template?.spec;
  const volumes = (spec?.volumes ?? []).filter((volume) => holdsConfigMap(volume, expected.configMapName));
  const file = (volume: Volume): string | undefined => fileInVolume(volume, expected);
  const mounts = (spec?.containers ?? []).flatMap((container) =>
    (container.volumeMounts ?? []).flatMap((mount) => {
      const volume = volumes.find((v) => v.name === mount.name);
      const inVolume = volume === undefined ? undefined : file(volume);
      const path = inVolume === undefined ? undefined : pathInContainer(mount, inVolume);
      return path === undefined ? [] : [{ container, mount, path }];
    }),
  );
  if (mounts.length === 0) {
    return [
      {
        reason: 'configmap-not-mounted',
        message: `no container mounts key ${expected.configMapKey} of ConfigMap ${expected.configMapName}`,
      },
    ];
  }
  const problems: ConsumerProblem[] = [];
  const subPath = mounts.find(({ mount }) => mount.subPath || mount.subPathExpr);
  if (subPath) {
    problems.push({
      reason: 'subpath-mount',
      message: `container ${subPath.container.name} mounts the ConfigMap with subPath at ${subPath.mount.mountPath}: it never sees an update; mount the directory`,
    });
  }
  const own = FORMAT_FLAGS[expected.format];
  const other = FORMAT_FLAGS[expected.format === 'file_sd' ? 'endpoint-config' : 'file_sd'];
  const reader = mounts.find(({ container, path }) => flagValues(container, own.file).some((value) => readsFile(value, path)));
  if (reader === undefined) {
    const wrong = mounts.find(({ container, path }) => flagValues(container, other.file).some((value) => readsFile(value, path)));
    problems.push(
      wrong
        ? {
            reason: 'flag-for-other-format',
            message: `container ${wrong.container.name} reads ${wrong.path} with ${other.file}, but OUTPUT_FORMAT=${expected.format} needs ${own.file}`,
          }
        : {
            reason: 'flag-missing',
            message: `no container passes ${own.file}=${mounts[0]!.path}, the file OUTPUT_FORMAT=${expected.format} writes`,
          },
    );
    return problems;
  }
  if (expected.restartMode === 'none') {
    const value = flagValues(reader.container, own.refresh).at(-1) ?? own.refreshDefault;
    const refreshMs = parseDuration(value);
    if (refreshMs === undefined || refreshMs > expected.pollIntervalMs) {
      problems.push({
        reason: 'refresh-slower-than-poll',
        message: `with RESTART_MODE=none Thanos sees a change only on its ${own.refresh} (${value}), longer than the ${expected.pollIntervalMs / 1000} s poll interval`,
      });
    }
  }
  return problems;
}

function holdsConfigMap(volume: Volume, name: string): boolean {
  return volume.configMap?.name === name || (volume.projected?.sources ?? []).some((source) => source.configMap?.name === name);
}

/** Where the key lands inside the volume (its `items` may rename or leave it out), or undefined when it does not. */
function fileInVolume(volume: Volume, expected: ConsumerExpectation): string | undefined {
  const sources = volume.configMap
    ? [volume.configMap]
    : (volume.projected?.sources ?? []).flatMap((s) => (s.configMap ? [s.configMap] : []));
  for (const source of sources) {
    if (source.name !== expected.configMapName) continue;
    if (source.items === undefined) return expected.configMapKey;
    const item = source.items.find((i) => i.key === expected.configMapKey);
    if (item) return item.path;
  }
  return undefined;
}

/** Where the file shows in the container: under the mount path, or the mount path itself for a subPath of it. */
function pathInContainer(mount: VolumeMount, inVolume: string): string | undefined {
  const subPath = mount.subPath ?? mount.subPathExpr;
  if (!subPath) return posix.join(mount.mountPath, inVolume);
  const relative = posix.relative(subPath, inVolume);
  return relative.startsWith('..') ? undefined : posix.join(mount.mountPath, relative);
}

/** Values of `--flag=value` and `--flag value` in the container's command and args, in order. */
function flagValues(container: Container, flag: string): string[] {
  const words = [...(container.command ?? []), ...(container.args ?? [])];
  const values: string[] = [];
  words.forEach((word, i) => {
    if (word.startsWith(`${flag}=`)) values.push(word.slice(flag.length + 1));
    else if (word === flag && words[i + 1] !== undefined) values.push(words[i + 1]!);
  });
  return values;
}

function readsFile(value: string, path: string): boolean {
  return posix.normalize(value) === path || matchesGlob(path, value);
}

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** A Prometheus duration (`30s`, `1m30s`, `5m`), as Thanos' flags take them; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(ms|s|m|h|d|w|y))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(amount) * DURATION_UNITS_MS[unit!]!;
  return total;
}
