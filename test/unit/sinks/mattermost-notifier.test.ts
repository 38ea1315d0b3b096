import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import { createMetrics } from '../../../src/metrics.ts';
import { buildMattermostPayload, createMattermostNotifier } from '../../../src/sinks/mattermost-notifier.ts';
import { captureLogger } from './fakes.ts';
import { metricValue } from '../metric-value.ts';

const SECRET = 's3cr3t-hook-key';
const URL_WITH_SECRET = `https://mattermost.example.com/hooks/${SECRET}`;
const TIMEOUT_MS = 5_000;

interface Sent {
  url: string;
  init: RequestInit | undefined;
  /** The fake clock when the request was made. */
  at: number;
}

type Answer = (init: RequestInit | undefined) => Promise<Response>;

function fakeFetch(answer: Answer = async () => new Response('ok')) {
  const calls: Sent[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    calls.push({ url: input instanceof Request ? input.url : input.toString(), init, at: Date.now() });
    return answer(init);
  };
  return { fetch, calls };
}

/** A hook that never answers; the request settles only when its signal aborts. */
const hangs: Answer = (init) =>
  new Promise<Response>((_resolve, reject) => {
    const signal = init?.signal;
    signal?.addEventListener('abort', () => reject(signal.reason as Error));
  });

/** What fetch rejects with when nothing listens on the port: the request never left. */
const refused: Answer = async () => {
  throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:443'), { code: 'ECONNREFUSED' }) });
};

type SetupOptions = {
  fetch?: typeof fetch;
  url?: string | undefined;
  repeatIntervalMs?: number;
  timeoutMs?: number;
  queueCapacity?: number;
};

function setup(options: SetupOptions = {}) {
  const metrics = createMetrics();
  const { logger, entries } = captureLogger();
  const notifier = createMattermostNotifier({ url: URL_WITH_SECRET, metrics, logger, timeoutMs: TIMEOUT_MS, ...options });
  const outcomes = async () => ({
    sent: await metricValue(metrics.alerts, { outcome: 'sent' }),
    failed: await metricValue(metrics.alerts, { outcome: 'failed' }),
    suppressed: await metricValue(metrics.alerts, { outcome: 'suppressed' }),
    dropped: await metricValue(metrics.alerts, { outcome: 'dropped' }),
  });
  return { notifier, entries, outcomes };
}

const COMPAT_PAYLOAD = {
  username: 'Thanos Store Discovery',
  icon_url: 'https://thanos.io/icon-dark.png',
  attachments: [
    {
      color: '#FF0000',
      fields: [
        { title: 'Thanos store discovery failed to read Route53', short: false },
        { title: 'Error Message', value: 'listing zone Z1 failed: caused by: Throttling: Rate exceeded', short: false },
      ],
    },
  ],
};

const ROUTE53_ERROR = new Error('listing zone Z1 failed', { cause: new Error('Throttling: Rate exceeded') });

/** Lets the sender run: its fetch, the answer and the bookkeeping after it, without moving the clock. */
const settle = () => jest.advanceTimersByTimeAsync(0);

/** Stops at once on the fake clock: a send still hanging is aborted. */
async function stopNow(notifier: { stop(deadlineMs: number): Promise<void> }): Promise<void> {
  const stopped = notifier.stop(0);
  await settle();
  await stopped;
}

describe('buildMattermostPayload', () => {
  it("is the older tool's payload, field for field and in the same order", () => {
    const payload = buildMattermostPayload(
      'Thanos store discovery failed to read Route53',
      'listing zone Z1 failed: caused by: Throttling: Rate exceeded',
    );
    expect(JSON.stringify(payload)).toBe(JSON.stringify(COMPAT_PAYLOAD));
  });
});

describe('createMattermostNotifier', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it("posts the older tool's JSON, with the error's cause chain, to the webhook", async () => {
    const { fetch, calls } = fakeFetch();
    const { notifier, outcomes } = setup({ fetch });

    notifier.notify({ title: 'Thanos store discovery failed to read Route53', error: ROUTE53_ERROR });
    await settle();

    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe(URL_WITH_SECRET);
    expect(calls[0]?.init?.method).toBe('POST');
    expect(calls[0]?.init?.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(JSON.parse(calls[0]?.init?.body as string)).toEqual(COMPAT_PAYLOAD);
    expect(await outcomes()).toEqual({ sent: 1, failed: 0, suppressed: 0, dropped: 0 });
  });

  it('returns at once while the hook hangs, and later alerts wait their turn behind it', async () => {
    const { fetch, calls } = fakeFetch(hangs);
    const { notifier, outcomes } = setup({ fetch });

    const returned = notifier.notify({ title: 'read failed', error: 'throttled' });
    notifier.notify({ title: 'write failed', error: 'conflict' });
    expect(returned).toBeUndefined();
    await settle();
    // One send at a time: the second waits behind the hung one.
    expect(calls).toHaveLength(1);

    await jest.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.at).toBe(TIMEOUT_MS);
    const first = calls[0]?.init?.signal;
    expect(first?.aborted).toBe(true);
    expect((first?.reason as Error).name).toBe('TimeoutError');
    expect(await outcomes()).toMatchObject({ sent: 0, failed: 1 });
    await stopNow(notifier);
  });

  it('sends each new failure once per repeat interval', async () => {
    const { fetch, calls } = fakeFetch();
    const { notifier, outcomes } = setup({ fetch, repeatIntervalMs: 1_000 });
    const steps = [
      { at: 0, title: 'read failed', error: 'throttled', sent: true },
      { at: 500, title: 'read failed', error: 'throttled', sent: false },
      { at: 999, title: 'read failed', error: 'throttled', sent: false },
      { at: 999, title: 'read failed', error: 'access denied', sent: true },
      { at: 999, title: 'write failed', error: 'throttled', sent: true },
      { at: 1_000, title: 'read failed', error: 'throttled', sent: true },
      { at: 1_500, title: 'read failed', error: 'throttled', sent: false },
    ];

    for (const step of steps) {
      await jest.advanceTimersByTimeAsync(step.at - Date.now());
      const before = calls.length;
      notifier.notify({ title: step.title, error: new Error(step.error) });
      await settle();
      expect({ ...step, sent: calls.length > before }).toEqual(step);
    }
    expect(await outcomes()).toEqual({ sent: 4, failed: 0, suppressed: 3, dropped: 0 });
  });

  it('counts one failure at different addresses as the same alert, but sends the addresses it names', async () => {
    const { fetch, calls } = fakeFetch();
    const { notifier } = setup({ fetch });

    notifier.notify({ title: 'read failed', error: 'connect ETIMEDOUT 52.94.1.2:443' });
    notifier.notify({ title: 'read failed', error: 'connect ETIMEDOUT 52.94.7.9:443' });
    notifier.notify({ title: 'read failed', error: 'connect ETIMEDOUT [2600:1f18::1]:443' });
    notifier.notify({ title: 'read failed', error: 'connect ECONNREFUSED 52.94.1.2:443' });
    await settle();

    expect(calls).toHaveLength(2);
    expect(JSON.stringify(calls[0]?.init?.body)).toContain('52.94.1.2:443');
  });

  it.each([
    { name: 'an HTTP 500 answer', answer: async () => new Response('failing', { status: 500 }), logged: { status: 500 } },
    { name: 'a hook that never answers', answer: hangs, logged: { error: expect.stringMatching(/did not answer in time/) } },
  ])('claims the repeat window with $name, so the channel gets one post per window', async ({ answer, logged }) => {
    const { fetch, calls } = fakeFetch(answer);
    const { notifier, entries, outcomes } = setup({ fetch, repeatIntervalMs: 60_000 });

    // A pass every second for two and a half windows, each raising the same alert.
    for (let second = 0; second < 150; second++) {
      notifier.notify({ title: 'read failed', error: 'throttled' });
      await jest.advanceTimersByTimeAsync(1_000);
    }

    expect(calls.map((call) => call.at)).toEqual([0, 60_000, 120_000]);
    expect(await outcomes()).toMatchObject({ sent: 0, failed: 3, suppressed: 147 });
    expect(entries).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'could not send Mattermost alert', title: 'read failed', ...logged }),
    );
    await stopNow(notifier);
  });

  it('retries a post that never left, with doubling backoff, only inside its window and once delivered never again', async () => {
    let answer: Answer = refused;
    const { fetch, calls } = fakeFetch((init) => answer(init));
    const { notifier, outcomes } = setup({ fetch, repeatIntervalMs: 10_000 });

    notifier.notify({ title: 'read failed', error: 'throttled' });
    await jest.advanceTimersByTimeAsync(3_500);
    // Tried at 0, 1 s and 3 s; the hook comes back before the try at 7 s, which then delivers.
    answer = async () => new Response('ok');
    await jest.advanceTimersByTimeAsync(20_000 - 3_500);
    expect(calls.map((call) => call.at)).toEqual([0, 1_000, 3_000, 7_000]);
    expect(await outcomes()).toMatchObject({ sent: 1, failed: 3 });

    // Never reachable: the tries stop where the next one would fall outside the window.
    answer = refused;
    notifier.notify({ title: 'read failed', error: 'throttled' });
    await jest.advanceTimersByTimeAsync(30_000);
    expect(calls.slice(4).map((call) => call.at - 20_000)).toEqual([0, 1_000, 3_000, 7_000]);
    expect(await outcomes()).toMatchObject({ sent: 1, failed: 7 });
  });

  it('holds a bounded queue, dropping the oldest waiting alert and counting it; a dropped alert may be raised again', async () => {
    const { fetch, calls } = fakeFetch(hangs);
    const { notifier, entries, outcomes } = setup({ fetch, queueCapacity: 2 });

    for (const title of ['a', 'b', 'c', 'd']) notifier.notify({ title, error: 'x' });
    await settle();
    // `a` is in flight; `b` was pushed out by `d`.
    expect(await outcomes()).toMatchObject({ dropped: 1 });
    expect(entries).toContainEqual(expect.objectContaining({ level: 'warn', title: 'b', message: expect.stringMatching(/dropped/) }));
    notifier.notify({ title: 'b', error: 'x' });
    await settle();
    expect(await outcomes()).toMatchObject({ dropped: 2, suppressed: 0 });

    await jest.advanceTimersByTimeAsync(3 * TIMEOUT_MS);
    const titles = calls.map((call) => (JSON.parse(call.init?.body as string) as typeof COMPAT_PAYLOAD).attachments[0]!.fields[0]!.title);
    expect(titles).toEqual(['a', 'd', 'b']);
    await stopNow(notifier);
  });

  it('stop sends what is queued, ignoring retry delays, then drops later alerts', async () => {
    let answer: Answer = refused;
    const { fetch, calls } = fakeFetch((init) => answer(init));
    const { notifier, outcomes } = setup({ fetch });

    notifier.notify({ title: 'a', error: 'x' });
    await settle();
    answer = async () => new Response('ok');
    notifier.notify({ title: 'b', error: 'x' });
    await notifier.stop(1_000);

    expect(calls.map((call) => call.at)).toEqual([0, 0, 0]);
    expect(await outcomes()).toMatchObject({ sent: 2, failed: 1, dropped: 0 });
    notifier.notify({ title: 'c', error: 'x' });
    await settle();
    expect(calls).toHaveLength(3);
    expect(await outcomes()).toMatchObject({ dropped: 1 });
  });

  it('stop gives up at its deadline: the send in flight is aborted and what is left is dropped', async () => {
    const { fetch, calls } = fakeFetch(hangs);
    const { notifier, outcomes } = setup({ fetch });

    notifier.notify({ title: 'a', error: 'x' });
    notifier.notify({ title: 'b', error: 'x' });
    const stopped = notifier.stop(2_000);
    let done = false;
    void stopped.then(() => (done = true));
    await jest.advanceTimersByTimeAsync(1_999);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await stopped;

    expect(calls).toHaveLength(1);
    expect(calls[0]?.init?.signal?.aborted).toBe(true);
    expect(await outcomes()).toMatchObject({ sent: 0, failed: 1, dropped: 1 });
  });

  it.each([
    { name: 'a non-2xx answer', answer: async () => new Response('no such hook', { status: 404 }) },
    {
      name: 'a network error',
      answer: async () =>
        Promise.reject(new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND mattermost.example.com') })),
    },
    {
      name: 'an error that quotes the URL',
      answer: async () => Promise.reject(new TypeError(`Failed to parse URL from ${URL_WITH_SECRET}`)),
    },
    { name: 'an error that quotes the path', answer: async () => Promise.reject(new Error(`POST /hooks/${SECRET} refused`)) },
  ])('never logs the webhook URL on $name', async ({ answer }) => {
    const { fetch } = fakeFetch(answer);
    const { notifier, entries, outcomes } = setup({ fetch });

    notifier.notify({ title: 'read failed', error: 'throttled' });
    await settle();

    expect(entries.length).toBeGreaterThan(0);
    expect(JSON.stringify(entries)).not.toContain(SECRET);
    expect(await outcomes()).toMatchObject({ sent: 0, failed: 1 });
  });

  it('does nothing when no webhook is configured', async () => {
    const { fetch, calls } = fakeFetch();
    const { notifier, entries, outcomes } = setup({ fetch, url: undefined });

    notifier.notify({ title: 'read failed', error: 'throttled' });
    await notifier.stop(1_000);

    expect(calls).toEqual([]);
    expect(entries).toEqual([]);
    expect(await outcomes()).toEqual({ sent: 0, failed: 0, suppressed: 0, dropped: 0 });
  });
});

describe('createMattermostNotifier against a local HTTP receiver', () => {
  const received: Array<{ method: string | undefined; path: string | undefined; contentType: string | undefined; body: unknown }> = [];
  let status = 200;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      void readBody(request).then((body) => {
        received.push({ method: request.method, path: request.url, contentType: request.headers['content-type'], body: JSON.parse(body) });
        response.writeHead(status, { 'Content-Type': 'text/plain' }).end(status === 200 ? 'ok' : 'failed');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    received.length = 0;
  });

  it('delivers the payload as JSON and counts it sent', async () => {
    status = 200;
    const { notifier, outcomes } = setup({ url: `${base}/hooks/${SECRET}` });

    notifier.notify({ title: 'Thanos store discovery failed to read Route53', error: ROUTE53_ERROR });
    await notifier.stop(5_000);

    expect(received).toEqual([{ method: 'POST', path: `/hooks/${SECRET}`, contentType: 'application/json', body: COMPAT_PAYLOAD }]);
    expect(await outcomes()).toMatchObject({ sent: 1, failed: 0 });
  });

  it('counts a 500 from the receiver as failed and logs its status', async () => {
    status = 500;
    const { notifier, entries, outcomes } = setup({ url: `${base}/hooks/${SECRET}` });

    notifier.notify({ title: 'read failed', error: 'throttled' });
    await notifier.stop(5_000);

    expect(received).toHaveLength(1);
    expect(await outcomes()).toMatchObject({ sent: 0, failed: 1 });
    expect(entries).toContainEqual(expect.objectContaining({ level: 'warn', status: 500 }));
    expect(JSON.stringify(entries)).not.toContain(SECRET);
  });

  it('knows a refused connection as a post that never left, and schedules a retry', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { notifier, entries } = setup({ url: `http://127.0.0.1:${port}/hooks/${SECRET}` });
    // A clock that moves on every reading, as a loaded machine's does between two lines: the logged backoff must still
    // be the one chosen (a second reading of the clock once logged 999 ms in CI).
    let clock = Date.now();
    const ticking = jest.spyOn(Date, 'now').mockImplementation(() => (clock += 5));
    try {
      notifier.notify({ title: 'read failed', error: 'throttled' });
      const retryScheduled = () =>
        entries.some((entry) => entry['message'] === 'could not send Mattermost alert' && typeof entry['retryInMs'] === 'number');
      while (!retryScheduled()) await new Promise((resolve) => setTimeout(resolve, 10));
      await notifier.stop(0);
    } finally {
      ticking.mockRestore();
    }

    // The first retry a second later; stop made one last try at once, with no retry after it.
    expect(entries.map((entry) => [entry['level'], entry['retryInMs']])).toEqual([
      ['warn', 1_000],
      ['warn', undefined],
    ]);
    expect(JSON.stringify(entries)).not.toContain(SECRET);
  });
});

async function readBody(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  return body;
}
