import type { ResourceRecordSet } from '@aws-sdk/client-route-53';

const ENDPOINT_TYPES: ReadonlySet<string> = new Set(['A', 'AAAA', 'CNAME']);
// Route53 returns every character outside [a-z0-9-_] of a name as a three-digit octal escape (`*` is `\052`, a dot
// inside a label `\056`); zone files may also escape a character with a plain backslash (`\.`).
const ESCAPE = /\\([0-7]{3}|.)/g;
// Splits on the dots that separate labels: a dot preceded by an escaping backslash belongs to its label.
const LABEL_BREAK = /(?<!(?:^|[^\\])(?:\\\\)*\\)\./;
const HOSTNAME_LABEL = /^[a-z0-9_-]+$/;

export type SkipReason = 'wildcard' | 'not_a_hostname' | 'unsupported_type';

/** A record name as decoded labels, lower case, without the root label of a trailing dot. */
export function recordLabels(name: string): string[] {
  const labels = name.split(LABEL_BREAK).map(decodeLabel);
  if (labels.length > 1 && labels.at(-1) === '') labels.pop();
  return labels;
}

function decodeLabel(label: string): string {
  return label
    .replace(ESCAPE, (_escape, code: string) => (code.length === 3 ? String.fromCharCode(Number.parseInt(code, 8)) : code))
    .toLowerCase();
}

/** The name for logs: labels joined by dots, a dot inside a label shown escaped so the two never read alike. */
export function displayName(labels: readonly string[]): string {
  return labels.map((label) => label.replaceAll('.', '\\056')).join('.');
}

/** A record name as a host: escapes decoded, lower case, no trailing dot. */
export function normaliseRecordName(name: string): string {
  return displayName(recordLabels(name));
}

/**
 * The hosts of the A, AAAA and CNAME records (alias or not) whose first label ends with `suffix`, sorted and unique.
 * `onSkip` hears about every record that matched the suffix but cannot be an endpoint.
 */
export function selectEndpointHosts(
  records: readonly ResourceRecordSet[],
  suffix: string,
  onSkip: (name: string, reason: SkipReason, detail: string) => void = () => {},
): string[] {
  const wanted = suffix.toLowerCase();
  const hosts = new Set<string>();
  for (const record of records) {
    if (record.Name === undefined) continue;
    const labels = recordLabels(record.Name);
    if (!(labels[0] ?? '').endsWith(wanted)) continue;
    const name = displayName(labels);
    const skip = skipReason(labels, record.Type);
    if (skip === undefined) hosts.add(name);
    else onSkip(name, skip.reason, skip.detail);
  }
  return [...hosts].sort();
}

function skipReason(labels: readonly string[], type: string | undefined): { reason: SkipReason; detail: string } | undefined {
  if (labels.some((label) => label.includes('*'))) return { reason: 'wildcard', detail: 'a wildcard record names no single host' };
  // A decoded escape can yield a dot inside a label, a space or any other character a hostname cannot carry.
  const bad = labels.find((label) => !HOSTNAME_LABEL.test(label));
  if (bad !== undefined) return { reason: 'not_a_hostname', detail: `label ${JSON.stringify(bad)} is not a hostname label` };
  if (type === undefined || !ENDPOINT_TYPES.has(type)) {
    return { reason: 'unsupported_type', detail: `type ${type ?? 'unknown'} is not A, AAAA or CNAME` };
  }
  return undefined;
}
