import { describeError, type Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { Outbox, type Delivery } from './outbox.ts';

const DEFAULT_REPEAT_INTERVAL_MS = 15 * 60_000;
const DEFAULT_TIMEOUT_MS = 5_000;
// Distinct alerts waiting to be sent (repeats never queue); a channel that is down for long loses the oldest.
const DEFAULT_QUEUE_CAPACITY = 32;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;
// Failures that happen before any byte of the request left: the hook cannot have posted anything, so a retry
// cannot show the alert twice. Any other failure (an HTTP error answer, a timeout, a reset) may have been posted.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export interface Alert {
  title: string;
  error: unknown;
}

export interface Notifier {
  /** Queues the alert and returns at once: sending is never on the caller's path. Never throws. */
  notify(alert: Alert): void;
}

export interface MattermostNotifier extends Notifier {
  /** Sends what is queued for at most `deadlineMs`, then stops; later alerts are dropped (and counted). */
  stop(deadlineMs: number): Promise<void>;
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

interface QueuedAlert {
  key: string;
  title: string;
  errorText: string;
  /** When this alert claimed its repeat window; retries stay inside it. */
  claimedAt: number;
  attempt: number;
}

/** How long an exit waits for queued alerts (a failure found just before it included); inside the shutdown deadline. */
export const ALERT_FLUSH_DEADLINE_MS = 3_000;

/**
 * Posts each new failure to a Mattermost incoming webhook, off the caller's path: `notify` queues, one sender posts.
 * An alert key (title and error text, network addresses aside) claims a repeat window when it is queued, and the
 * window holds whatever the send's outcome: a failed or timed-out post may still have reached the channel, so it is
 * not repeated inside the window. Only a post that never left (connection refused, name not resolved) is retried,
 * with doubling backoff, while its window lasts. The webhook URL is a credential: it is never logged, and it is
 * scrubbed from error texts that might quote it.
 */
export function createMattermostNotifier(options: {
  url: string | undefined;
  metrics: Metrics;
  logger: Logger;
  repeatIntervalMs?: number;
  timeoutMs?: number;
  queueCapacity?: number;
  fetch?: typeof fetch;
}): MattermostNotifier {
  const { url, metrics, logger } = options;
  const repeatIntervalMs = options.repeatIntervalMs ?? DEFAULT_REPEAT_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const send = options.fetch ?? fetch;
  const windows = new Map<string, number>();

  function forget(before: number): void {
    for (const [key, claimedAt] of windows) if (claimedAt <= before) windows.delete(key);
  }

  async function deliver(alert: QueuedAlert, { signal: stopped, lastTry }: { signal: AbortSignal; lastTry: boolean }): Promise<Delivery> {
    const { title } = alert;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new DOMException('the webhook did not answer in time', 'TimeoutError')), timeoutMs);
    const signal = AbortSignal.any([stopped, timeout.signal]);
    try {
      const response = await send(url!, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(buildMattermostPayload(title, alert.errorText)),
        signal,
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) {
        metrics.alerts.inc({ outcome: 'sent' });
        return {};
      }
      metrics.alerts.inc({ outcome: 'failed' });
      logger.warn('could not send Mattermost alert', { title, status: response.status });
      return {};
    } catch (sendError) {
      metrics.alerts.inc({ outcome: 'failed' });
      const retry = !lastTry && NOT_SENT_CODES.has(errorCode(sendError)) ? nextTry(alert) : undefined;
      logger.warn('could not send Mattermost alert', {
        title,
        error: redact(describeError(sendError), url!),
        ...(retry === undefined ? {} : { retryInMs: retry.delayMs }),
      });
      if (retry === undefined) return {};
      alert.attempt += 1;
      return { retryAt: retry.at };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The next try after a post that never left, or undefined when it would fall outside the alert's window. The delay is
   * computed once, so the log states exactly the backoff chosen.
   */
  function nextTry(alert: QueuedAlert): { at: number; delayMs: number } | undefined {
    const delayMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** alert.attempt);
    const at = Date.now() + delayMs;
    return at < alert.claimedAt + repeatIntervalMs ? { at, delayMs } : undefined;
  }

  const outbox = new Outbox<QueuedAlert>({
    capacity: options.queueCapacity ?? DEFAULT_QUEUE_CAPACITY,
    deliver,
    onDrop: ({ key, title }) => {
      metrics.alerts.inc({ outcome: 'dropped' });
      // Never sent: the same failure may be reported again at once.
      windows.delete(key);
      logger.warn('Mattermost alert dropped unsent (queue full or shutting down)', { title });
    },
  });

  return {
    notify({ title, error }) {
      if (url === undefined) return;
      const errorText = describeError(error);
      const key = `${title}\u0000${withoutAddresses(errorText)}`;
      const now = Date.now();
      forget(now - repeatIntervalMs);
      if (windows.has(key)) {
        metrics.alerts.inc({ outcome: 'suppressed' });
        logger.debug('alert suppressed as a repeat', { title });
        return;
      }
      windows.set(key, now);
      outbox.push({ key, title, errorText, claimedAt: now, attempt: 0 });
    },
    stop: (deadlineMs) => outbox.stop(deadlineMs),
  };
}

/** The system error code of a failed fetch (undici wraps it as the cause of `TypeError: fetch failed`). */
function errorCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : '';
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
