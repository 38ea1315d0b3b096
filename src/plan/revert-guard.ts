/**
 * GitOps revert guard. Argo CD or Flux self-heal strips the pod-template annotation we patch, which rolls the pods,
 * and we patch it back, which rolls them again, forever. A revert is our own hash gone from a Deployment we already
 * patched with it. After `maxReverts` within `windowMs`, stop patching: the fight stays stopped until the annotation
 * shows our hash again (someone told the GitOps tool to ignore it) or the process restarts.
 */
export interface RevertPolicy {
  maxReverts: number;
  windowMs: number;
}

export interface RevertState {
  /** Monotonic times of the reverts seen within the window. */
  reverts: readonly number[];
  stopped: boolean;
}

export const NO_REVERTS: RevertState = { reverts: [], stopped: false };

export type RevertObservation = 'reverted' | 'in place' | 'other';

export function trackReverts(state: RevertState, observation: RevertObservation, now: number, policy: RevertPolicy): RevertState {
  // Our hash in place ends a stopped fight (someone let it be). While we still patch, it is only our own patch-back
  // seen before the next revert, so the count goes on: a GitOps tool slower than the poll would never trip it.
  if (observation === 'in place' && state.stopped) return NO_REVERTS;
  const recent = state.reverts.filter((at) => now - at < policy.windowMs);
  if (observation !== 'reverted') return { reverts: recent, stopped: state.stopped };
  const reverts = [...recent, now];
  return { reverts, stopped: state.stopped || reverts.length >= policy.maxReverts };
}

/** What a pass sees: the hash we last patched in, the hash it wants, and the Deployment's annotation now. */
export function observeRevert(lastPatched: string | undefined, wanted: string, onDeployment: string | undefined): RevertObservation {
  if (onDeployment === wanted) return 'in place';
  return lastPatched === wanted ? 'reverted' : 'other';
}
