export type CheckResult = { ok: true } | { ok: false; reason: string };

/**
 * Liveness of the poll loop: it is alive while polls keep finishing (success or failure) within the allowed
 * silence. A wedged loop (a hung request, a stuck timer) stops beating and the kubelet restarts the pod.
 */
export class Heartbeat {
  private last: number;
  private readonly maxSilenceMs: number;
  private readonly now: () => number;

  /** `now` is monotonic by default: a wall-clock step (NTP) must neither fail liveness nor hide a wedged loop. */
  constructor(maxSilenceMs: number, now: () => number = () => performance.now()) {
    this.maxSilenceMs = maxSilenceMs;
    this.now = now;
    this.last = now();
  }

  beat(): void {
    this.last = this.now();
  }

  check(): CheckResult {
    const silentMs = this.now() - this.last;
    return silentMs <= this.maxSilenceMs ? { ok: true } : { ok: false, reason: `no poll finished for ${Math.round(silentMs / 1000)}s` };
  }
}

/** All checks must pass; the first failure's reason is reported. */
export function allOf(checks: readonly (() => CheckResult)[]): () => CheckResult {
  return () => checks.map((check) => check()).find((result) => !result.ok) ?? { ok: true };
}
