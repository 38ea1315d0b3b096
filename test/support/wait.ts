import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `condition` until true; on timeout throws naming `what`, with `context()` (e.g. a log tail) appended. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  context?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? `\n${context()}` : ''}`);
    }
    await sleep(50);
  }
}
