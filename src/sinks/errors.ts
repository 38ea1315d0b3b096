import { ApiException } from '@kubernetes/client-node';
import { describeError } from '../logger.ts';

/** The HTTP status of a failed Kubernetes API call, or undefined when the call never got an answer. */
export function apiStatusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** A write to the Kubernetes API that failed; `resource` reads like `ConfigMap monitoring/thanos-sd`. */
export class KubernetesWriteError extends Error {
  override readonly name = 'KubernetesWriteError';
  readonly resource: string;
  readonly status: number | undefined;

  constructor(options: { resource: string; operation: string; cause: unknown; detail?: string }) {
    const detail = options.detail === undefined ? '' : ` ${options.detail}`;
    super(`${options.operation} of ${options.resource} failed${detail}: ${describeKubernetesError(options.cause)}`, {
      cause: options.cause,
    });
    this.resource = options.resource;
    this.status = apiStatusCode(options.cause);
  }
}

/**
 * One line for a log or an error message. ApiException's own message spans several lines and carries the response
 * headers; the code and the Status reason and message are what a reader needs.
 */
export function describeKubernetesError(cause: unknown): string {
  if (!(cause instanceof ApiException)) return describeError(cause);
  const status = parseStatus(cause.body);
  const reason = status?.reason === undefined ? '' : ` ${status.reason}`;
  const message = status?.message === undefined ? '' : `: ${status.message}`;
  return `HTTP ${cause.code}${reason}${message}`;
}

function parseStatus(body: unknown): { reason?: string; message?: string } | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { reason, message } = value as Record<string, unknown>;
  return {
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof message === 'string' ? { message } : {}),
  };
}
