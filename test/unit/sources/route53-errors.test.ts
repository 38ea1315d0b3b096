import type { Route53Outcome } from '../../../src/metrics.ts';
import { classifyRoute53Error, errorCodeOf, isRetryableOutcome } from '../../../src/sources/route53-errors.ts';
import { sdkErrors } from './fakes.ts';

describe('classifyRoute53Error', () => {
  it.each<[string, unknown, Route53Outcome, string | undefined]>([
    ['Throttling (HTTP 400)', sdkErrors.throttling(), 'throttled', 'Throttling'],
    ['PriorRequestNotComplete', sdkErrors.priorRequestNotComplete(), 'throttled', 'PriorRequestNotComplete'],
    ['HTTP 429', { name: 'Unknown', $fault: 'client', $metadata: { httpStatusCode: 429 } }, 'throttled', 'Unknown'],
    [
      '$retryable.throttling',
      { name: 'Custom', $metadata: { httpStatusCode: 400 }, $retryable: { throttling: true } },
      'throttled',
      'Custom',
    ],
    ['HTTP 503', sdkErrors.serviceUnavailable(), 'server_error', 'Unknown'],
    ['HTTP 500', { name: 'InternalFailure', $fault: 'server', $metadata: { httpStatusCode: 500 } }, 'server_error', 'InternalFailure'],
    ['server fault without a status', { name: 'X', $fault: 'server', $metadata: {} }, 'server_error', 'X'],
    ['socket hang up (ECONNRESET)', sdkErrors.socketHangUp(), 'network_error', 'ECONNRESET'],
    ['ECONNREFUSED', sdkErrors.connectionRefused(), 'network_error', 'ECONNREFUSED'],
    [
      'ENOTFOUND',
      Object.assign(new Error('getaddrinfo ENOTFOUND route53.amazonaws.com'), { code: 'ENOTFOUND' }),
      'network_error',
      'ENOTFOUND',
    ],
    [
      'network error as a cause',
      new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }),
      'network_error',
      'TypeError',
    ],
    ['rewrapped ECONNREFUSED', new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9'), 'network_error', undefined],
    ['rewrapped socket hang up', new Error('AWS SDK error wrapper for TimeoutError: socket hang up'), 'network_error', undefined],
    ['rewrapped other error', new Error('AWS SDK error wrapper for Error: invalid header value'), 'client_error', undefined],
    ['NoSuchHostedZone', sdkErrors.noSuchHostedZone('Z1'), 'client_error', 'NoSuchHostedZone'],
    ['AccessDenied', sdkErrors.accessDenied(), 'client_error', 'AccessDenied'],
    ['InvalidInput', sdkErrors.invalidInput(), 'client_error', 'InvalidInput'],
    ['a plain Error', new Error('boom'), 'client_error', undefined],
    ['a string', 'boom', 'client_error', undefined],
    ['undefined', undefined, 'client_error', undefined],
  ])('%s', (_title, error, outcome, code) => {
    expect(classifyRoute53Error(error)).toBe(outcome);
    expect(errorCodeOf(error)).toBe(code);
  });
});

describe('isRetryableOutcome', () => {
  it.each<[Route53Outcome, boolean]>([
    ['throttled', true],
    ['server_error', true],
    ['network_error', true],
    ['client_error', false],
    ['success', false],
  ])('%s -> %s', (outcome, retryable) => {
    expect(isRetryableOutcome(outcome)).toBe(retryable);
  });
});
