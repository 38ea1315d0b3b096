import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `condition` until true. A condition that throws counts as "not yet" (a server still starting refuses
 * connections); on timeout the error names `what`, the last such failure, and `context()` (e.g. a log tail).
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  context?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastFailure: unknown;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (error) {
      lastFailure = error;
    }
    if (Date.now() > deadline) {
      const failure = lastFailure === undefined ? '' : ` (last check failed: ${String((lastFailure as Error)?.message ?? lastFailure)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${failure}${context ? `\n${context()}` : ''}`);
    }
    await sleep(50);
  }
}
