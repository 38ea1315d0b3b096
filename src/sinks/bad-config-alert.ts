import { hookUrlProblem, type ConfigError } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { ALERT_FLUSH_DEADLINE_MS, createMattermostNotifier } from './mattermost-notifier.ts';

/**
 * Every problem on stderr, one per line, and the alert the older tool sent for bad configuration: to the hook of the
 * environment when that one is usable, since the configuration that would name it could not be loaded.
 */
export async function reportBadConfig(error: ConfigError, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const logger = createLogger('info');
  logger.error('invalid configuration, not starting', { problems: error.problems });
  for (const problem of error.problems) process.stderr.write(`config error: ${problem}\n`);
  const hook = env['MATTERMOST_ALERTS_HOOK']?.trim();
  if (hook && hookUrlProblem(hook) === undefined) {
    const notifier = createMattermostNotifier({ url: hook, metrics: createMetrics(), logger });
    notifier.notify({ title: 'Thanos store discovery has an invalid configuration', error });
    await notifier.stop(ALERT_FLUSH_DEADLINE_MS);
  }
}
