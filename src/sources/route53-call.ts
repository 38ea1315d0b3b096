import pRetry from 'p-retry';
import { describeError, type Logger } from '../logger.ts';
import type { Route53Outcome } from '../metrics.ts';
import { classifyRoute53Error, errorCodeOf, httpStatusOf, isRetryableOutcome } from './route53-errors.ts';

export const DEFAULT_RETRY = { retries: 5, minTimeoutMs: 200, maxTimeoutMs: 10_000 };
export type RetryOptions = { retries?: number; minTimeoutMs?: number; maxTimeoutMs?: number };

/** What one Route53 call is about: how it is named in logs, counted and reported when its retries are spent. */
export interface CallTarget {
  operation: string;
  /** Log fields naming the zone or source asked about. */
  fields: Record<string, string>;
  count(outcome: Route53Outcome): void;
  fail(detail: string, options: { code: string | undefined; cause: unknown }): Error;
}

/**
 * One Route53 request, retried on its own with exponential backoff and jitter while the failure is retryable
 * (throttling, 5xx, network); every attempt is counted in `counter` (the poll's share of the account quota) and by
 * outcome. Once spent, the failure is typed by `target.fail`. An abort rejects with the signal's reason.
 */
export function createRoute53Caller(options: { logger: Logger; retry?: RetryOptions | undefined }) {
  const { logger } = options;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  return async function call<T>(
    target: CallTarget,
    send: () => Promise<T>,
    signal: AbortSignal | undefined,
    counter: { requests: number },
  ): Promise<T> {
    let attempts = 0;
    const attempt = async (): Promise<T> => {
      attempts++;
      counter.requests++;
      try {
        const output = await send();
        target.count('success');
        return output;
      } catch (error) {
        // A cancelled request says nothing about Route53.
        if (!signal?.aborted) target.count(classifyRoute53Error(error));
        throw error;
      }
    };
    try {
      return await pRetry(attempt, {
        retries: retry.retries,
        minTimeout: retry.minTimeoutMs,
        maxTimeout: retry.maxTimeoutMs,
        factor: 2,
        randomize: true,
        signal,
        shouldRetry: ({ error, attemptNumber, retryDelay }) => {
          const outcome = classifyRoute53Error(error);
          if (!isRetryableOutcome(outcome)) return false;
          logger.warn('Route53 request failed, retrying', {
            ...target.fields,
            attempt: attemptNumber,
            outcome,
            retryDelayMs: retryDelay,
            error: describeError(error),
          });
          return true;
        },
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const status = httpStatusOf(error);
      const code = errorCodeOf(error);
      const what = [code, status === undefined ? undefined : `HTTP ${status}`].filter(Boolean).join(', ');
      const detail = `${target.operation} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}${what ? ` (${what})` : ''}: ${describeError(error)}`;
      throw target.fail(detail, { code, cause: error });
    }
  };
}

export type Route53Caller = ReturnType<typeof createRoute53Caller>;
