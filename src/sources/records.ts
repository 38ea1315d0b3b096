import type { ResourceRecordSet } from '@aws-sdk/client-route-53';

const ENDPOINT_TYPES: ReadonlySet<string> = new Set(['A', 'AAAA', 'CNAME']);
// Route53 returns every character outside [a-z0-9-_] of a name as a three-digit octal escape (`*` is `\052`).
const OCTAL_ESCAPE = /\\([0-7]{3})/g;
const HOSTNAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

/** A record name as a host: escapes decoded, lower case, no trailing dot. */
export function normaliseRecordName(name: string): string {
  return name
    .replace(OCTAL_ESCAPE, (_escape, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)))
    .toLowerCase()
    .replace(/\.$/, '');
}

/**
 * The hosts of the A, AAAA and CNAME records (alias or not) whose first label ends with `suffix`, sorted and unique.
 * `onSkip` hears about every record that matched the suffix but cannot be an endpoint.
 */
export function selectEndpointHosts(
  records: readonly ResourceRecordSet[],
  suffix: string,
  onSkip: (name: string, reason: string) => void = () => {},
): string[] {
  const wanted = suffix.toLowerCase();
  const hosts = new Set<string>();
  for (const record of records) {
    if (record.Name === undefined) continue;
    const name = normaliseRecordName(record.Name);
    const firstLabel = name.split('.', 1)[0] ?? '';
    if (!firstLabel.endsWith(wanted)) continue;
    const reason = skipReason(name, record.Type);
    if (reason === undefined) hosts.add(name);
    else onSkip(name, reason);
  }
  return [...hosts].sort();
}

function skipReason(name: string, type: string | undefined): string | undefined {
  if (name.includes('*')) return 'wildcard';
  // A decoded escape can yield characters a file_sd target cannot carry.
  if (!HOSTNAME.test(name)) return 'not a hostname';
  if (type === undefined || !ENDPOINT_TYPES.has(type)) return `type ${type ?? 'unknown'} is not A, AAAA or CNAME`;
  return undefined;
}
