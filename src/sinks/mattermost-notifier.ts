import { describeError, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

const DEFAULT_REPEAT_INTERVAL_MS = 15 * 60_000;
const DEFAULT_TIMEOUT_MS = 5_000;

export interface Alert {
  title: string;
  error: unknown;
}

export interface Notifier {
  /** Never rejects, and never takes longer than the send timeout. */
  notify(alert: Alert): Promise<void>;
}

/** The older CronJob's webhook body, field for field, so existing Mattermost channels look the same. */
export function buildMattermostPayload(title: string, errorText: string) {
  return {
    username: 'Thanos Store Discovery',
    icon_url: 'https://thanos.io/icon-dark.png',
    attachments: [
      {
        color: '#FF0000',
        fields: [
          { title, short: false },
          { title: 'Error Message', value: errorText, short: false },
        ],
      },
    ],
  };
}

/**
 * Posts each new failure to a Mattermost incoming webhook. The same title and error text is sent at most once per
 * repeat interval, so a failure that persists across reconcile passes does not flood the channel. The webhook URL
 * is a credential: it is never logged, and it is scrubbed from error texts that might quote it.
 */
export function createMattermostNotifier(options: {
  url: string | undefined;
  metrics: Metrics;
  logger: Logger;
  repeatIntervalMs?: number;
  timeoutMs?: number;
  now?: () => number;
  fetch?: typeof fetch;
}): Notifier {
  const { url, metrics, logger } = options;
  const repeatIntervalMs = options.repeatIntervalMs ?? DEFAULT_REPEAT_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  const send = options.fetch ?? fetch;
  const lastSent = new Map<string, number>();

  function forget(before: number): void {
    for (const [key, sentAt] of lastSent) if (sentAt <= before) lastSent.delete(key);
  }

  return {
    async notify({ title, error }) {
      if (url === undefined) return;
      const errorText = describeError(error);
      const key = `${title}\u0000${withoutAddresses(errorText)}`;
      const at = now();
      forget(at - repeatIntervalMs);
      if (lastSent.has(key)) {
        metrics.alerts.inc({ outcome: 'suppressed' });
        logger.debug('alert suppressed as a repeat', { title });
        return;
      }
      // Claimed before the request so a concurrent identical alert is suppressed rather than sent twice.
      lastSent.set(key, at);
      const failed = (fields: Record<string, unknown>): void => {
        lastSent.delete(key);
        metrics.alerts.inc({ outcome: 'failed' });
        logger.warn('could not send Mattermost alert', { title, ...fields });
      };
      try {
        const response = await send(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(buildMattermostPayload(title, errorText)),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel().catch(() => undefined);
        if (!response.ok) {
          failed({ status: response.status });
          return;
        }
        metrics.alerts.inc({ outcome: 'sent' });
      } catch (sendError) {
        failed({ error: redact(describeError(sendError), url) });
      }
    },
  };
}

// The same outage names whichever address it tried (`connect ETIMEDOUT 52.94.1.2:443`): one failure, one alert.
function withoutAddresses(text: string): string {
  return text.replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9a-fA-F:]+\](?::\d+)?/g, '<address>');
}

// Fetch errors can quote the URL (an unparsable one is echoed whole); the hook's secret is in its path.
function redact(text: string, url: string): string {
  const secrets = [url];
  if (URL.canParse(url)) {
    const { href, pathname } = new URL(url);
    secrets.push(href);
    if (pathname.length > 1) secrets.push(pathname);
  }
  return secrets.reduce((result, secret) => result.replaceAll(secret, '<webhook url>'), text);
}
