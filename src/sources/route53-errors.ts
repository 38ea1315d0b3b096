import type { Route53Outcome } from '../metrics.ts';

// Route53 answers throttling with HTTP 400 `Throttling`, and `PriorRequestNotComplete` while it is still busy with
// an earlier request; the others are the SDK's generic throttling names.
const THROTTLING_CODES: ReadonlySet<string> = new Set([
  'Throttling',
  'ThrottlingException',
  'PriorRequestNotComplete',
  'RequestLimitExceeded',
  'RequestThrottled',
  'TooManyRequestsException',
  'SlowDown',
]);
// Node socket and DNS failures, undici's, and the SDK's own request timeouts (`TimeoutError`).
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
// The SDK rewraps a thrown value that is not an Error of its own realm (Node's socket errors, seen from a VM sandbox
// such as jest's) into a plain Error that keeps only the original's text.
const REWRAPPED = /^AWS SDK error wrapper for (\w+)(?:: \S+ (\w+))?/;
const RETRYABLE: ReadonlySet<Route53Outcome> = new Set(['throttled', 'server_error', 'network_error']);
const MAX_CAUSE_DEPTH = 5;

/** The fields SDK service exceptions (`$metadata`, `$fault`, `$retryable`) and Node system errors (`code`) carry. */
interface ErrorFields {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: { throttling?: unknown };
}

/** What one failed Route53 request says about the service, for the request counter and the retry decision. */
export function classifyRoute53Error(error: unknown): Route53Outcome {
  const fields = fieldsOf(error);
  const status = httpStatusOf(error);
  if (status === 429 || THROTTLING_CODES.has(String(fields.name)) || fields.$retryable?.throttling === true) {
    return 'throttled';
  }
  if ((status !== undefined && status >= 500) || fields.$fault === 'server') return 'server_error';
  if (status === undefined && isNetworkError(error)) return 'network_error';
  return 'client_error';
}

/** Throttling, 5xx and network failures are worth another attempt; anything else will fail the same way again. */
export function isRetryableOutcome(outcome: Route53Outcome): boolean {
  return RETRYABLE.has(outcome);
}

/** The most specific code of an error: a Node `code` (`ECONNRESET`) or an SDK exception name (`NoSuchHostedZone`). */
export function errorCodeOf(error: unknown): string | undefined {
  const { code, name } = fieldsOf(error);
  if (typeof code === 'string') return code;
  if (typeof name === 'string' && name !== 'Error') return name;
  return undefined;
}

export function httpStatusOf(error: unknown): number | undefined {
  const status = fieldsOf(error).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function isNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    const { code, name, cause } = fieldsOf(current);
    if (NETWORK_CODES.has(String(code)) || NETWORK_CODES.has(String(name))) return true;
    if (rewrappedCodes(current).some((text) => NETWORK_CODES.has(text))) return true;
    current = cause;
  }
  return false;
}

/** The name and, for Node system errors (`connect ECONNREFUSED ...`), the code that a rewrapped error's text keeps. */
function rewrappedCodes(error: object): string[] {
  const { message } = fieldsOf(error);
  const match = typeof message === 'string' ? REWRAPPED.exec(message) : null;
  return match ? match.slice(1).filter((part): part is string => part !== undefined) : [];
}

function fieldsOf(error: unknown): ErrorFields {
  return typeof error === 'object' && error !== null ? error : {};
}
