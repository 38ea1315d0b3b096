import { ageWindow, judgeRemoval, recordRemovals, EMPTY_WINDOW, type RemovalWindow } from './removal-window.ts';

/**
 * The safety rules that turn one successful Route53 read into the set to publish. Pure: the caller keeps the state.
 *
 * - Empty read: a read that finds nothing is far likelier a broken zone or permissions than every cluster gone, so
 *   it changes nothing (and counts as no confirming poll).
 * - Removal hysteresis: a host is removed only after it was missing from `confirmPolls` successful reads in a row;
 *   additions are immediate.
 * - Mass removal: when the confirmed removals, with those of the removal window, exceed `maxShare` of the set
 *   published before the loss began (removal-window.ts), they are held until they were missing from
 *   `massConfirmPolls` reads, so a half-broken read never halves the global view, however the loss is split.
 */
export interface RemovalPolicy {
  confirmPolls: number;
  maxShare: number;
  massConfirmPolls: number;
}

export interface DesiredState {
  /** Sorted, unique: what should be published. */
  hosts: readonly string[];
  /** For each published host missing from the last reads: how many successful reads in a row it was missing. */
  missing: ReadonlyMap<string, number>;
  /** The removals of the last polls; none when undefined. */
  window?: RemovalWindow;
}

export interface PollVerdict {
  state: DesiredState;
  emptyRead: boolean;
  added: string[];
  removed: string[];
  /** Hosts missing from the read but still published, waiting for confirming polls. */
  pending: string[];
  /** Set while a removal larger than the allowed share is held: `hosts` held, `lost` of `reference` gone in the window. */
  massRemovalHeld: { hosts: number; lost: number; reference: number; share: number } | undefined;
}

export function applyPoll(previous: DesiredState | undefined, read: readonly string[], policy: RemovalPolicy): PollVerdict {
  if (read.length === 0) {
    const state: DesiredState = previous ?? { hosts: [], missing: new Map<string, number>() };
    return { state, emptyRead: true, added: [], removed: [], pending: [...state.missing.keys()].sort(), massRemovalHeld: undefined };
  }
  const readSet = new Set(read);
  const baseline = previous?.hosts ?? [];
  const missing = new Map<string, number>();
  for (const host of baseline) {
    if (!readSet.has(host)) missing.set(host, (previous?.missing.get(host) ?? 0) + 1);
  }
  const confirmed = [...missing].filter(([, polls]) => polls >= policy.confirmPolls).map(([host]) => host);
  const window = ageWindow(previous?.window ?? EMPTY_WINDOW, policy.massConfirmPolls);
  const { lost, reference, share, mass } = judgeRemoval(window, baseline.length, confirmed.length, policy.maxShare);
  const removed = mass ? confirmed.filter((host) => (missing.get(host) ?? 0) >= policy.massConfirmPolls) : confirmed;
  for (const host of removed) missing.delete(host);
  const hosts = sortedUnique([...read, ...missing.keys()]);
  const baselineSet = new Set(baseline);
  return {
    state: { hosts, missing, window: recordRemovals(window, baseline.length, removed.length) },
    emptyRead: false,
    added: sortedUnique(read.filter((host) => !baselineSet.has(host))),
    removed: removed.sort(),
    pending: [...missing.keys()].sort(),
    massRemovalHeld:
      mass && removed.length < confirmed.length ? { hosts: confirmed.length - removed.length, lost, reference, share } : undefined,
  };
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}
