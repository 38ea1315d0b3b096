import { jest } from '@jest/globals';
import { createSilentLogger, type Logger } from '../../../src/logger.ts';
import { createMetrics, type Metrics } from '../../../src/metrics.ts';
import { createRoute53Reader, Route53ReadError, type Route53ReaderOptions } from '../../../src/sources/route53-reader.ts';
import { metricValue } from '../metric-value.ts';
import { pollCount, record, requestCount, scriptedRoute53, sdkErrors, type Step } from './fakes.ts';

// Real backoff shape, milliseconds long, so retry tests stay fast without fake timers.
const FAST_RETRY = { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 2 };

let metrics: Metrics;
let logger: Logger;

beforeEach(() => {
  metrics = createMetrics();
  logger = createSilentLogger();
});

afterEach(() => {
  jest.useRealTimers();
});

function readerFor(script: Record<string, Step[]>, options: Partial<Route53ReaderOptions> = {}) {
  const route53 = scriptedRoute53(script);
  const reader = createRoute53Reader({
    client: route53.client,
    zones: Object.keys(script),
    suffix: '-grpc',
    metrics,
    logger,
    retry: FAST_RETRY,
    ...options,
  });
  return { reader, ...route53 };
}

/** The `retryDelayMs` field of a `logger.warn(message, fields)` call. */
function retryDelayOf(call: unknown[] | undefined): number {
  return (call?.[1] as { retryDelayMs: number }).retryDelayMs;
}

async function readError(promise: Promise<unknown>): Promise<Route53ReadError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Route53ReadError);
  return error as Route53ReadError;
}

// Every real zone starts with its apex SOA and NS records.
const APEX_SOA = record('x.', 'SOA');

describe('pagination', () => {
  it('starts at the beginning of the zone and passes NextRecordName/Type/Identifier through exactly', async () => {
    const { reader, requests } = readerFor({
      Z1: [
        {
          ResourceRecordSets: [record('a-grpc.x.', 'A'), record('web.x.', 'A')],
          IsTruncated: true,
          NextRecordName: 'b-grpc.x.',
          NextRecordType: 'AAAA',
        },
        {
          ResourceRecordSets: [record('b-grpc.x.', 'AAAA')],
          IsTruncated: true,
          NextRecordName: 'c\\052-grpc.x.',
          NextRecordType: 'CNAME',
          NextRecordIdentifier: 'eu-west-1',
        },
        { ResourceRecordSets: [record('c-grpc.x.', 'CNAME', { SetIdentifier: 'eu-west-1' }), record('a-grpc.x.', 'TXT')] },
      ],
    });

    await expect(reader.read()).resolves.toEqual({
      hosts: ['a-grpc.x', 'b-grpc.x', 'c-grpc.x'],
      recordSetsRead: 5,
      zones: ['Z1'],
      requests: 3,
    });
    expect(requests).toStrictEqual([
      { HostedZoneId: 'Z1', MaxItems: 300 },
      { HostedZoneId: 'Z1', MaxItems: 300, StartRecordName: 'b-grpc.x.', StartRecordType: 'AAAA' },
      {
        HostedZoneId: 'Z1',
        MaxItems: 300,
        StartRecordName: 'c\\052-grpc.x.',
        StartRecordType: 'CNAME',
        StartRecordIdentifier: 'eu-west-1',
      },
    ]);
    expect(await requestCount(metrics, 'Z1', 'success')).toBe(3);
    expect(await pollCount(metrics, 'success')).toBe(1);
  });

  it('reads every zone and merges their hosts, deduped and sorted', async () => {
    const { reader, requests } = readerFor({
      Z1: [{ ResourceRecordSets: [record('b-grpc.x.', 'A'), record('a-grpc.y.', 'A')] }],
      Z2: [
        { ResourceRecordSets: [record('b-grpc.x.', 'AAAA')], IsTruncated: true, NextRecordName: 'z.x.', NextRecordType: 'A' },
        { ResourceRecordSets: [record('A-GRPC.X.', 'CNAME')] },
      ],
      Z3: [{ ResourceRecordSets: [APEX_SOA] }],
    });

    await expect(reader.read()).resolves.toEqual({
      hosts: ['a-grpc.x', 'a-grpc.y', 'b-grpc.x'],
      recordSetsRead: 5,
      zones: ['Z1', 'Z2', 'Z3'],
      requests: 4,
    });
    expect(requests.map((r) => r.HostedZoneId)).toEqual(['Z1', 'Z2', 'Z2', 'Z3']);
  });

  it('reads the zones afresh on every read', async () => {
    const { reader } = readerFor({
      Z1: [{ ResourceRecordSets: [record('a-grpc.x.', 'A')] }, { ResourceRecordSets: [record('b-grpc.x.', 'A')] }],
    });

    expect((await reader.read()).hosts).toEqual(['a-grpc.x']);
    expect((await reader.read()).hosts).toEqual(['b-grpc.x']);
  });

  it.each<[string, Step]>([
    ['names no NextRecordName', { ResourceRecordSets: [], IsTruncated: true }],
    ['does not advance', { ResourceRecordSets: [], IsTruncated: true, NextRecordName: 'a.x.', NextRecordType: 'A' }],
  ])('fails when a truncated page %s', async (_title, badPage) => {
    const { reader } = readerFor({
      Z1: [{ ResourceRecordSets: [APEX_SOA], IsTruncated: true, NextRecordName: 'a.x.', NextRecordType: 'A' }, badPage],
    });

    const error = await readError(reader.read());
    expect(error.zone).toBe('Z1');
    expect(error.message).toContain('Route53 zone Z1');
  });

  it.each<[string, Step]>([
    ['an empty list', { ResourceRecordSets: [] }],
    ['no list at all', {} as Step],
  ])('fails, naming the zone, when a first page holds %s (a zone always has SOA and NS)', async (_title, page) => {
    const { reader } = readerFor({ Z1: [{ ResourceRecordSets: [record('a-grpc.x.', 'A')] }], Z2: [page] });

    const error = await readError(reader.read());
    expect(error.zone).toBe('Z2');
    expect(error.message).toBe('Route53 zone Z2: ListResourceRecordSets returned no record sets, not even SOA and NS');
  });

  it('warns once per skipped record with its zone and reason, and counts it on every poll', async () => {
    const warn = jest.spyOn(logger, 'warn');
    const page = { ResourceRecordSets: [record('\\052-grpc.x.', 'A'), record('a-grpc.x.', 'A'), record('b\\056-grpc.x.', 'A')] };
    const { reader } = readerFor({ Z1: [page, page] });

    await reader.read();
    await reader.read();
    const skipWarnings = (warn.mock.calls as unknown[][]).filter(
      ([message]) => message === 'skipped a Route53 record that cannot be a store endpoint',
    );
    expect(skipWarnings.map(([, fields]) => fields)).toEqual([
      { zone: 'Z1', record: '*-grpc.x', reason: 'wildcard', detail: 'a wildcard record names no single host' },
      { zone: 'Z1', record: 'b\\056-grpc.x', reason: 'not_a_hostname', detail: 'label "b.-grpc" is not a hostname label' },
    ]);
    expect(await metricValue(metrics.recordsSkipped, { reason: 'wildcard' })).toBe(2);
    expect(await metricValue(metrics.recordsSkipped, { reason: 'not_a_hostname' })).toBe(2);
  });

  it('remembers only the skips of the last read: a bad record that went and came back is warned again', async () => {
    const warn = jest.spyOn(logger, 'warn');
    const bad = (name: string) => ({ ResourceRecordSets: [APEX_SOA, record('a-grpc.x.', 'A'), record(name, 'A')] });
    // A zone whose bad records change every poll must not grow what the reader keeps: it holds this read's skips.
    const { reader } = readerFor({ Z1: [bad('\\052-grpc.x.'), bad('b\\056-grpc.x.'), bad('\\052-grpc.x.'), bad('\\052-grpc.x.')] });

    for (let poll = 0; poll < 4; poll++) await reader.read();
    const warned = (warn.mock.calls as unknown[][])
      .filter(([message]) => message === 'skipped a Route53 record that cannot be a store endpoint')
      .map(([, fields]) => (fields as { record: string }).record);
    expect(warned).toEqual(['*-grpc.x', 'b\\056-grpc.x', '*-grpc.x']);
  });
});

describe('retries', () => {
  it.each<[string, () => Error, string]>([
    ['Throttling', sdkErrors.throttling, 'throttled'],
    ['PriorRequestNotComplete', sdkErrors.priorRequestNotComplete, 'throttled'],
    ['HTTP 503', sdkErrors.serviceUnavailable, 'server_error'],
    ['a socket hang up', sdkErrors.socketHangUp, 'network_error'],
    ['a refused connection', sdkErrors.connectionRefused, 'network_error'],
  ])('retries the failed page, and only it, after %s', async (_title, failure, outcome) => {
    const warn = jest.spyOn(logger, 'warn');
    const { reader, requests } = readerFor({
      Z1: [
        { ResourceRecordSets: [record('a-grpc.x.', 'A')], IsTruncated: true, NextRecordName: 'b-grpc.x.', NextRecordType: 'A' },
        failure(),
        failure(),
        { ResourceRecordSets: [record('b-grpc.x.', 'A')] },
      ],
    });

    // Retries are spent from the same quota, so the read counts them.
    await expect(reader.read()).resolves.toMatchObject({ hosts: ['a-grpc.x', 'b-grpc.x'], requests: 4 });
    expect(requests).toHaveLength(4);
    expect(requests[0]).toStrictEqual({ HostedZoneId: 'Z1', MaxItems: 300 });
    expect(requests.slice(1)).toStrictEqual(
      Array(3).fill({ HostedZoneId: 'Z1', MaxItems: 300, StartRecordName: 'b-grpc.x.', StartRecordType: 'A' }),
    );
    expect(await requestCount(metrics, 'Z1', outcome)).toBe(2);
    expect(await requestCount(metrics, 'Z1', 'success')).toBe(2);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenCalledWith('Route53 request failed, retrying', expect.objectContaining({ zone: 'Z1', attempt: 1, outcome }));
  });

  it.each<[string, () => Error, string]>([
    ['NoSuchHostedZone', () => sdkErrors.noSuchHostedZone('Z2'), 'NoSuchHostedZone'],
    ['AccessDenied', sdkErrors.accessDenied, 'AccessDenied'],
    ['InvalidInput', sdkErrors.invalidInput, 'InvalidInput'],
  ])('fails at once on %s with an error naming the zone', async (_title, failure, code) => {
    const cause = failure();
    const { reader, requests } = readerFor({ Z1: [{ ResourceRecordSets: [record('a-grpc.x.', 'A')] }], Z2: [cause] });

    const error = await readError(reader.read());
    expect(error).toMatchObject({ name: 'Route53ReadError', zone: 'Z2', code, cause });
    expect(error.message).toContain('Route53 zone Z2');
    expect(error.message).toContain('after 1 attempt ');
    expect(error.message).toContain(cause.message);
    expect(requests.filter((r) => r.HostedZoneId === 'Z2')).toHaveLength(1);
    expect(await requestCount(metrics, 'Z2', 'client_error')).toBe(1);
  });

  it('fails with Route53ReadError once the retries are spent', async () => {
    const { reader, requests } = readerFor(
      { Z1: [sdkErrors.throttling(), sdkErrors.throttling(), sdkErrors.throttling()] },
      { retry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 1 } },
    );

    const error = await readError(reader.read());
    expect(error).toMatchObject({ zone: 'Z1', code: 'Throttling' });
    expect(error.message).toMatch(
      /^Route53 zone Z1: ListResourceRecordSets failed after 3 attempts \(Throttling, HTTP 400\): Rate exceeded$/,
    );
    expect(requests).toHaveLength(3);
    expect(await requestCount(metrics, 'Z1', 'throttled')).toBe(3);
    expect(await pollCount(metrics, 'error')).toBe(1);
    expect(await pollCount(metrics, 'success')).toBe(0);
  });

  it('yields no result when one zone fails, even after others were read', async () => {
    const onlyZ3Fails = readerFor({
      Z1: [{ ResourceRecordSets: [record('a-grpc.x.', 'A')] }],
      Z2: [{ ResourceRecordSets: [record('b-grpc.x.', 'A')] }],
      Z3: [sdkErrors.noSuchHostedZone('Z3')],
    });

    const error = await readError(onlyZ3Fails.reader.read());
    expect(error.zone).toBe('Z3');
    expect(await pollCount(metrics, 'error')).toBe(1);
    expect(await pollCount(metrics, 'success')).toBe(0);
  });

  it('waits with exponential backoff and jitter between attempts by default', async () => {
    jest.useFakeTimers();
    const warn = jest.spyOn(logger, 'warn');
    const { reader, requests } = readerFor(
      { Z1: [sdkErrors.throttling(), sdkErrors.throttling(), sdkErrors.throttling(), { ResourceRecordSets: [APEX_SOA] }] },
      { retry: undefined },
    );

    const read = reader.read();
    const delays: number[] = [];
    for (let retry = 1; retry <= 3; retry++) {
      await jest.advanceTimersByTimeAsync(0);
      const delay = retryDelayOf(warn.mock.calls.at(-1));
      delays.push(delay);
      await jest.advanceTimersByTimeAsync(delay - 1);
      expect(requests).toHaveLength(retry);
      await jest.advanceTimersByTimeAsync(1);
      expect(requests).toHaveLength(retry + 1);
    }
    await expect(read).resolves.toMatchObject({ hosts: [] });
    // Default 200 ms first wait, factor 2, each scaled by a random 1-2.
    delays.forEach((delay, index) => {
      expect(delay).toBeGreaterThanOrEqual(200 * 2 ** index);
      expect(delay).toBeLessThanOrEqual(400 * 2 ** index);
    });
  });

  it('caps the wait at maxTimeoutMs', async () => {
    const warn = jest.spyOn(logger, 'warn');
    const { reader } = readerFor(
      { Z1: [sdkErrors.throttling(), sdkErrors.throttling(), sdkErrors.throttling(), { ResourceRecordSets: [APEX_SOA] }] },
      { retry: { retries: 5, minTimeoutMs: 3, maxTimeoutMs: 5 } },
    );

    await reader.read();
    const delays = warn.mock.calls.map(retryDelayOf);
    expect(delays).toHaveLength(3);
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(5);
  });
});

describe('cancellation', () => {
  it.each(['read', 'reader'] as const)('an abort through the %s signal ends the backoff wait and rejects with its reason', async (via) => {
    const controller = new AbortController();
    const reason = new Error('stopping');
    const { reader, requests, abortSignals } = readerFor(
      { Z1: [sdkErrors.throttling(), sdkErrors.throttling()] },
      { retry: { retries: 5, minTimeoutMs: 60_000, maxTimeoutMs: 60_000 }, ...(via === 'reader' ? { signal: controller.signal } : {}) },
    );

    const read = reader.read(via === 'read' ? controller.signal : undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(requests).toHaveLength(1);
    expect(abortSignals[0]?.aborted).toBe(false);
    controller.abort(reason);

    await expect(read).rejects.toBe(reason);
    expect(abortSignals[0]?.aborted).toBe(true);
    expect(requests).toHaveLength(1);
    expect(await requestCount(metrics, 'Z1', 'throttled')).toBe(1);
  });

  it('does not count a request that was cut off by the abort', async () => {
    const controller = new AbortController();
    const reader = createRoute53Reader({
      client: {
        send: ((_command: unknown, options: { abortSignal: AbortSignal }) =>
          new Promise((_resolve, reject) => {
            options.abortSignal.addEventListener('abort', () =>
              reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })),
            );
          })) as never,
      },
      zones: ['Z1'],
      suffix: '-grpc',
      metrics,
      logger,
    });

    const read = reader.read(controller.signal);
    controller.abort(new Error('stopping'));

    await expect(read).rejects.toThrow('stopping');
    const { values } = await metrics.route53Requests.get();
    expect(values).toEqual([]);
  });
});
