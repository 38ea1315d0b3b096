import type { DesiredHosts } from './controller/desired-hosts.ts';
import type { Reconciler } from './controller/reconciler.ts';
import { describeError, type Logger } from './logger.ts';
import type { Notifier } from './sinks/mattermost-notifier.ts';

export const EXIT = { ok: 0, failed: 1, badConfig: 2 } as const;

export interface RunOnceParts {
  read: () => Promise<{ hosts: string[] }>;
  desired: DesiredHosts;
  reconciler: Reconciler;
  synced: () => boolean;
  logger: Logger;
  notifier: Notifier;
  reportPollError: (error: unknown) => void;
  /** Also sends the alerts queued so far, within a deadline. */
  stop: () => Promise<unknown>;
}

/** For users who keep the CronJob: one poll, one pass, and an exit code that says how it went. */
export async function runOnce(parts: RunOnceParts): Promise<number> {
  const { logger } = parts;
  try {
    if (!parts.synced()) {
      const message = 'cannot read the Thanos ConfigMap and Deployment from Kubernetes; nothing was changed';
      logger.error(message);
      parts.notifier.notify({ title: 'Thanos store discovery failed to read Kubernetes', error: message });
      return EXIT.failed;
    }
    try {
      parts.desired.update((await parts.read()).hosts);
    } catch (error) {
      parts.reportPollError(error);
      return EXIT.failed;
    }
    const outcome = await parts.reconciler.reconcile();
    logger.info('run once finished', { outcome });
    return outcome === 'success' ? EXIT.ok : EXIT.failed;
  } catch (error) {
    logger.error('run once failed', { error: describeError(error) });
    return EXIT.failed;
  } finally {
    await parts.stop();
  }
}
