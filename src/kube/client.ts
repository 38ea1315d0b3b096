import {
  ApiException,
  Observable,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';

/** The API server answered with an error status; `reason` and `message` come from its Status body when it sent one. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly code: number;
  readonly reason: string | undefined;
  readonly body: string;

  constructor(code: number, body: string, options?: ErrorOptions) {
    const status = parseStatus(body);
    super(`HTTP ${code}${status.reason ? ` ${status.reason}` : ''}${status.message ? `: ${status.message}` : ''}`, options);
    this.code = code;
    this.reason = status.reason;
    this.body = body;
  }
}

/** The HTTP status of a failed Kubernetes API call, or undefined when the call never got an answer. */
export function apiStatusCode(error: unknown): number | undefined {
  return error instanceof KubeApiError ? error.code : undefined;
}

/** client-node's errors as this controller reads them: an answer with an error status becomes a KubeApiError. */
export function toKubeApiError(error: unknown): unknown {
  if (error instanceof ApiException) {
    const { code, body } = error as ApiException<unknown>;
    return new KubeApiError(code, typeof body === 'string' ? body : '', { cause: error });
  }
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  // client-node's Watch refuses a non-200 answer with a plain Error carrying `statusCode`.
  if (error instanceof Error && typeof statusCode === 'number') return new KubeApiError(statusCode, '', { cause: error });
  return error;
}

export interface CallLimits {
  /** Each call, credential included, must finish within this. */
  timeoutMs: number;
  /** Aborts every call in flight: the controller is stopping. */
  signal?: AbortSignal;
}

/**
 * Runs one call of a generated API class: its request carries a signal that aborts after the timeout or with
 * `limits.signal`, and `contentType` when the call needs one the generated code would not pick (patches). The call
 * is also abandoned when the signal fires before a request is sent (an exec credential plugin that hangs).
 */
export async function kubeCall<T>(
  limits: CallLimits,
  run: (options: ConfigurationOptions) => Promise<T>,
  contentType?: string,
): Promise<T> {
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const signal = limits.signal ? AbortSignal.any([timeout, limits.signal]) : timeout;
  const middleware: ObservableMiddleware[] = [
    requestMiddleware((request) => {
      request.setSignal(signal);
      if (contentType !== undefined) request.setHeaderParam('Content-Type', contentType);
    }),
  ];
  let onAbort = () => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    signal.throwIfAborted();
    return await Promise.race([run({ middleware, middlewareMergeStrategy: 'append' }), aborted]);
  } catch (error) {
    throw toKubeApiError(error);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function requestMiddleware(change: (request: RequestContext) => void): ObservableMiddleware {
  return {
    pre: (request) => {
      change(request);
      return new Observable(Promise.resolve(request));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
}

function parseStatus(body: string): { reason?: string; message?: string } {
  try {
    const status = JSON.parse(body) as Record<string, unknown>;
    return {
      ...(typeof status['reason'] === 'string' ? { reason: status['reason'] } : {}),
      ...(typeof status['message'] === 'string' ? { message: status['message'] } : {}),
    };
  } catch {
    return {};
  }
}
