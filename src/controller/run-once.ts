import type { DesiredHosts } from './desired-hosts.ts';
import type { Reconciler } from './reconciler.ts';
import { describeError, type Logger } from '../logger.ts';
import type { Notifier } from '../sinks/mattermost-notifier.ts';
import { EXIT } from './manager.ts';

export interface RunOnceParts {
  /** The informers' first lists. */
  started: Promise<unknown>;
  /** Settles with a stop signal's name. */
  stopRequested: Promise<string>;
  /** Closes the write fence: no write starts after it. */
  stopWriting: () => void;
  read: () => Promise<{ hosts: string[] }>;
  /** Takes the read; a failed read is reported through it (logged and alerted). */
  desired: Pick<DesiredHosts, 'update' | 'readFailed'>;
  reconciler: Reconciler;
  synced: () => boolean;
  logger: Logger;
  notifier: Notifier;
  /** Also sends the alerts queued so far, within a deadline. */
  stop: () => Promise<unknown>;
}

/**
 * For users who keep the CronJob: one poll, one pass, and an exit code that says how it went. A stop signal ends it
 * at once with 0, as a stopped Job should, and nothing is written after it: a pass in flight meets a closed fence,
 * a read in flight is left unanswered.
 */
export async function runOnce(parts: RunOnceParts): Promise<number> {
  const stopped = parts.stopRequested.then((signal) => {
    parts.stopWriting();
    parts.logger.info('stopping on a signal: nothing more is written', { signal });
    return EXIT.ok;
  });
  try {
    return await Promise.race([pass(parts), stopped]);
  } finally {
    await parts.stop();
  }
}

async function pass(parts: RunOnceParts): Promise<number> {
  const { logger } = parts;
  try {
    await parts.started;
    if (!parts.synced()) {
      const message = 'cannot read the Thanos ConfigMap and Deployment from Kubernetes; nothing was changed';
      logger.error(message);
      parts.notifier.notify({ title: 'Thanos store discovery failed to read Kubernetes', error: message });
      return EXIT.failed;
    }
    try {
      parts.desired.update((await parts.read()).hosts);
    } catch (error) {
      parts.desired.readFailed(error);
      return EXIT.failed;
    }
    const outcome = await parts.reconciler.reconcile();
    logger.info('run once finished', { outcome });
    return outcome === 'success' ? EXIT.ok : EXIT.failed;
  } catch (error) {
    logger.error('run once failed', { error: describeError(error) });
    return EXIT.failed;
  }
}
