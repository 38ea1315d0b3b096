/**
 * The mass-removal rule over a window of polls: "a half-broken read never halves the global view" must hold however
 * the loss is split. Judged poll by poll against the already reduced set, 45% then 15% of 100 passed twice as under
 * half and left 40. So each removal is judged together with the removals of the last `polls` polls, against the
 * largest set published in that window: the set before the loss began.
 *
 * The window is as long as the mass hold (`massConfirmPolls`): a loss that has lasted longer than that is as
 * confirmed as the hold would make it. Only polls that removed something are kept, as counts, so the state is a
 * few numbers that the ConfigMap annotation carries across restarts and run-once runs.
 */
export interface WindowRemoval {
  /** Successful reads since the poll that removed them (0: the latest). */
  pollsAgo: number;
  /** How many hosts were published before that poll's removals. */
  before: number;
  removed: number;
}

/** Newest first. */
export type RemovalWindow = readonly WindowRemoval[];

export const EMPTY_WINDOW: RemovalWindow = [];

// A bound on the state whatever the settings: past it the two oldest entries are merged into one that stays as long
// as the newer of them and counts both, so merging can only make the rule stricter.
export const MAX_WINDOW_ENTRIES = 32;

export interface RemovalJudgement {
  /** The window's removals and this poll's confirmed ones... */
  lost: number;
  /** ...of the largest set published in the window... */
  reference: number;
  /** ...as a share. */
  share: number;
  mass: boolean;
}

/** Judges `confirmed` removals from a set of `published` hosts, given the window as aged for this poll. */
export function judgeRemoval(window: RemovalWindow, published: number, confirmed: number, maxShare: number): RemovalJudgement {
  const reference = Math.max(published, ...window.map((entry) => entry.before));
  if (confirmed === 0) return { lost: 0, reference, share: 0, mass: false };
  const lost = confirmed + window.reduce((sum, entry) => sum + entry.removed, 0);
  const share = reference === 0 ? 0 : lost / reference;
  return { lost, reference, share, mass: share > maxShare };
}

/** One successful read later: every entry a poll older, those past the window dropped. */
export function ageWindow(window: RemovalWindow, polls: number): RemovalWindow {
  return window.map((entry) => ({ ...entry, pollsAgo: entry.pollsAgo + 1 })).filter((entry) => entry.pollsAgo < polls);
}

/** Records this poll's removals (none: the window as it is). */
export function recordRemovals(window: RemovalWindow, before: number, removed: number): RemovalWindow {
  if (removed === 0) return window;
  const entries = [{ pollsAgo: 0, before, removed }, ...window];
  while (entries.length > MAX_WINDOW_ENTRIES) {
    const oldest = entries.pop()!;
    const next = entries.pop()!;
    entries.push({ pollsAgo: next.pollsAgo, before: Math.max(oldest.before, next.before), removed: oldest.removed + next.removed });
  }
  return entries;
}
