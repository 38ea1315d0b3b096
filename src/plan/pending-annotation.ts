import { createHash } from 'node:crypto';
import { MAX_WINDOW_ENTRIES, type RemovalWindow, type WindowRemoval } from './removal-window.ts';

/** Carries the removals being confirmed across restarts, failovers and run-once runs. */
export const PENDING_REMOVALS_ANNOTATION = 'thanos-store-discovery/pending-removals';

/** The serialised state when nothing is pending: the annotation is then left out. */
export const NOTHING_PENDING = '{}';

/**
 * The removal state the ConfigMap annotation carries across restarts, failovers and run-once runs: how many polls
 * each published host has been missing, and the removal window's counts. Kubernetes allows 256 KiB for all of an
 * object's annotations together; host names as JSON keys took ~44-60 bytes per held host and 6,000 held of 10,000
 * passed the limit, so every write failed. So a held host is written as 8 characters (48 bits of its name's
 * SHA-256, base64url), grouped by missing count, and at most `MAX_PENDING_HOSTS` of them (96,000 bytes).
 *
 * Hashes rather than a second data key: Thanos mounts the whole ConfigMap as a directory, so a second key is a
 * second file next to the endpoint list, and it would share the list's 1 MiB. Hashes rather than indexes into the
 * published list: a hand edit of the list cannot shift them onto other hosts. The names need not be read back: the
 * hosts are the published list, the hash only says which of them is missing. Two hosts sharing 48 bits (about one
 * chance in 10^6 at 20,000 hosts) would share a count, which can only bring forward the removal of a host that is
 * itself missing.
 *
 * Format: `{"v":2,"missing":{"<polls>":"<hashes>"},"window":[[pollsAgo,before,removed]]}`; `{}` when nothing is
 * pending (the annotation is then left out). The older `{"<host>":<polls>}` is still read, so an upgrade in the
 * middle of a hold keeps its counts.
 */
export interface PendingState {
  missing: ReadonlyMap<string, number>;
  window: RemovalWindow;
}

export const MAX_PENDING_HOSTS = 12_000;
const HASH_CHARS = 8;

export function hostHash(host: string): string {
  return createHash('sha256').update(host).digest().subarray(0, 6).toString('base64url');
}

/** Deterministic text, so the pass can compare it with what is published and skip a write that changes nothing. */
export function serialisePending(state: PendingState): string {
  if (state.missing.size === 0 && state.window.length === 0) return NOTHING_PENDING;
  // Over the bound, the hosts closest to removal keep their counts; the others start afresh after a restart, which
  // only delays their removal.
  const kept = [...state.missing].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)).slice(0, MAX_PENDING_HOSTS);
  const groups = new Map<number, string[]>();
  for (const [host, polls] of kept) {
    const group = groups.get(polls) ?? [];
    group.push(hostHash(host));
    groups.set(polls, group);
  }
  const missing = Object.fromEntries([...groups].sort(([a], [b]) => a - b).map(([polls, hashes]) => [polls, hashes.sort().join('')]));
  const window = state.window.map((entry) => [entry.pollsAgo, entry.before, entry.removed]);
  return JSON.stringify({ v: 2, ...(groups.size > 0 ? { missing } : {}), ...(window.length > 0 ? { window } : {}) });
}

/**
 * Whether the published annotation already says what `next` says, the ages of the window's entries aside: they change
 * every poll, and writing the ConfigMap each poll only to age them (for a whole window after every removal) buys
 * nothing. A restart that reads an entry as younger than it is holds a loss longer, the safe side; an entry that ages
 * out, a new removal or a changed count still differ. No annotation is `{}`; an unreadable one never matches.
 */
export function samePendingState(published: string | undefined, next: string): boolean {
  // The steady state, every pass: the same text, nothing to parse.
  if ((published ?? NOTHING_PENDING) === next) return true;
  const observed = withoutAges(published ?? NOTHING_PENDING);
  return observed !== undefined && observed === withoutAges(next);
}

/** The annotation's JSON object, or undefined when the text is not one. */
function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function withoutAges(text: string): string | undefined {
  const parsed = parseObject(text);
  if (parsed === undefined) return undefined;
  const window = parsed['window'];
  return JSON.stringify(
    Array.isArray(window) ? { ...parsed, window: window.map((entry: unknown) => (Array.isArray(entry) ? entry.slice(1) : entry)) } : parsed,
  );
}

/** Reads the annotation back for the hosts `published` now; anything malformed counts as nothing pending. */
export function parsePending(text: string | undefined, published: readonly string[]): PendingState {
  const none: PendingState = { missing: new Map(), window: [] };
  const parsed = text === undefined ? undefined : parseObject(text);
  if (parsed === undefined) return none;
  if (parsed['v'] === 2) return { missing: missingByHash(parsed['missing'], published), window: windowOf(parsed['window']) };
  return { missing: missingByName(parsed, published), window: [] };
}

function missingByHash(groups: unknown, published: readonly string[]): Map<string, number> {
  const polls = new Map<string, number>();
  if (!isRecord(groups)) return new Map();
  for (const [count, hashes] of Object.entries(groups)) {
    if (!isPositiveInteger(Number(count)) || typeof hashes !== 'string') continue;
    for (let i = 0; i + HASH_CHARS <= hashes.length; i += HASH_CHARS) polls.set(hashes.slice(i, i + HASH_CHARS), Number(count));
  }
  const missing = new Map<string, number>();
  if (polls.size === 0) return missing;
  for (const host of published) {
    const count = polls.get(hostHash(host));
    if (count !== undefined) missing.set(host, count);
  }
  return missing;
}

function missingByName(counts: Record<string, unknown>, published: readonly string[]): Map<string, number> {
  const hosts = new Set(published);
  const missing = new Map<string, number>();
  for (const [host, polls] of Object.entries(counts)) {
    if (hosts.has(host) && isPositiveInteger(polls)) missing.set(host, polls);
  }
  return missing;
}

function windowOf(value: unknown): WindowRemoval[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter(
      (entry): entry is [number, number, number] =>
        Array.isArray(entry) &&
        entry.length === 3 &&
        Number.isInteger(entry[0]) &&
        entry[0] >= 0 &&
        isPositiveInteger(entry[1]) &&
        isPositiveInteger(entry[2]),
    )
    .slice(0, MAX_WINDOW_ENTRIES)
    .map(([pollsAgo, before, removed]) => ({ pollsAgo, before, removed }));
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
