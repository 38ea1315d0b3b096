import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics } from '../../../src/metrics.ts';
import { buildMattermostPayload, createMattermostNotifier } from '../../../src/sinks/mattermost-notifier.ts';
import { captureLogger } from './fakes.ts';
import { metricValue } from '../metric-value.ts';

const SECRET = 's3cr3t-hook-key';
const URL_WITH_SECRET = `https://mattermost.example.com/hooks/${SECRET}`;

interface Sent {
  url: string;
  init: RequestInit | undefined;
}

function fakeFetch(answer: (init: RequestInit | undefined) => Promise<Response> = async () => new Response('ok')) {
  const calls: Sent[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    calls.push({ url: input instanceof Request ? input.url : input.toString(), init });
    return answer(init);
  };
  return { fetch, calls };
}

function setup(options: { fetch?: typeof fetch; url?: string | undefined; now?: () => number; repeatIntervalMs?: number; timeoutMs?: number } = {}) {
  const metrics = createMetrics();
  const { logger, entries } = captureLogger();
  const notifier = createMattermostNotifier({ url: URL_WITH_SECRET, metrics, logger, ...options });
  const outcomes = async () => ({
    sent: await metricValue(metrics.alerts, { outcome: 'sent' }),
    failed: await metricValue(metrics.alerts, { outcome: 'failed' }),
    suppressed: await metricValue(metrics.alerts, { outcome: 'suppressed' }),
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

describe('buildMattermostPayload', () => {
  it('is the older tool\'s payload, field for field and in the same order', () => {
    const payload = buildMattermostPayload('Thanos store discovery failed to read Route53', 'listing zone Z1 failed: caused by: Throttling: Rate exceeded');
    expect(JSON.stringify(payload)).toBe(JSON.stringify(COMPAT_PAYLOAD));
  });
});

describe('createMattermostNotifier', () => {
  it('posts the older tool\'s JSON, with the error\'s cause chain, to the webhook', async () => {
    const { fetch, calls } = fakeFetch();
    const { notifier, outcomes } = setup({ fetch });

    await notifier.notify({ title: 'Thanos store discovery failed to read Route53', error: ROUTE53_ERROR });

    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe(URL_WITH_SECRET);
    expect(calls[0]?.init?.method).toBe('POST');
    expect(calls[0]?.init?.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(JSON.parse(calls[0]?.init?.body as string)).toEqual(COMPAT_PAYLOAD);
    expect(await outcomes()).toEqual({ sent: 1, failed: 0, suppressed: 0 });
  });

  it('sends each new failure once per repeat interval', async () => {
    let clock = 0;
    const { fetch, calls } = fakeFetch();
    const { notifier, outcomes } = setup({ fetch, now: () => clock, repeatIntervalMs: 1_000 });
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
      clock = step.at;
      const before = calls.length;
      await notifier.notify({ title: step.title, error: new Error(step.error) });
      expect({ ...step, sent: calls.length > before }).toEqual(step);
    }
    expect(await outcomes()).toEqual({ sent: 4, failed: 0, suppressed: 3 });
  });

  it('counts one failure at different addresses as the same alert, but sends the addresses it names', async () => {
    const { fetch, calls } = fakeFetch();
    const { notifier } = setup({ fetch, now: () => 0 });

    await notifier.notify({ title: 'read failed', error: 'connect ETIMEDOUT 52.94.1.2:443' });
    await notifier.notify({ title: 'read failed', error: 'connect ETIMEDOUT 52.94.7.9:443' });
    await notifier.notify({ title: 'read failed', error: 'connect ETIMEDOUT [2600:1f18::1]:443' });
    await notifier.notify({ title: 'read failed', error: 'connect ECONNREFUSED 52.94.1.2:443' });

    expect(calls).toHaveLength(2);
    expect(JSON.stringify(calls[0])).toContain('52.94.1.2:443');
  });

  it('does not count a failed send as sent, so the next identical alert is tried again', async () => {
    let status = 502;
    const { fetch, calls } = fakeFetch(async () => new Response('bad gateway', { status }));
    const { notifier, entries, outcomes } = setup({ fetch, now: () => 0 });

    await notifier.notify({ title: 'read failed', error: 'throttled' });
    status = 200;
    await notifier.notify({ title: 'read failed', error: 'throttled' });

    expect(calls).toHaveLength(2);
    expect(await outcomes()).toEqual({ sent: 1, failed: 1, suppressed: 0 });
    expect(entries).toContainEqual(expect.objectContaining({ level: 'warn', status: 502, title: 'read failed' }));
  });

  it('gives up at the timeout when the webhook never answers, without throwing', async () => {
    let signal: AbortSignal | undefined;
    const { fetch } = fakeFetch(
      (init) =>
        new Promise<Response>((_resolve, reject) => {
          signal = init?.signal ?? undefined;
          signal?.addEventListener('abort', () => reject(signal?.reason as Error));
        }),
    );
    const { notifier, entries, outcomes } = setup({ fetch, timeoutMs: 20 });

    await expect(notifier.notify({ title: 'read failed', error: 'throttled' })).resolves.toBeUndefined();

    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as Error).name).toBe('TimeoutError');
    expect(await outcomes()).toEqual({ sent: 0, failed: 1, suppressed: 0 });
    expect(entries).toContainEqual(expect.objectContaining({ level: 'warn', title: 'read failed' }));
  });

  it.each([
    { name: 'a non-2xx answer', answer: async () => new Response('no such hook', { status: 404 }) },
    { name: 'a network error', answer: async () => Promise.reject(new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND mattermost.example.com') })) },
    { name: 'an error that quotes the URL', answer: async () => Promise.reject(new TypeError(`Failed to parse URL from ${URL_WITH_SECRET}`)) },
    { name: 'an error that quotes the path', answer: async () => Promise.reject(new Error(`POST /hooks/${SECRET} refused`)) },
  ])('never logs the webhook URL on $name', async ({ answer }) => {
    const { fetch } = fakeFetch(answer);
    const { notifier, entries, outcomes } = setup({ fetch });

    await expect(notifier.notify({ title: 'read failed', error: 'throttled' })).resolves.toBeUndefined();

    expect(entries.length).toBeGreaterThan(0);
    expect(JSON.stringify(entries)).not.toContain(SECRET);
    expect(await outcomes()).toEqual({ sent: 0, failed: 1, suppressed: 0 });
  });

  it('does nothing when no webhook is configured', async () => {
    const { fetch, calls } = fakeFetch();
    const { notifier, entries, outcomes } = setup({ fetch, url: undefined });

    await notifier.notify({ title: 'read failed', error: 'throttled' });

    expect(calls).toEqual([]);
    expect(entries).toEqual([]);
    expect(await outcomes()).toEqual({ sent: 0, failed: 0, suppressed: 0 });
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

    await notifier.notify({ title: 'Thanos store discovery failed to read Route53', error: ROUTE53_ERROR });

    expect(received).toEqual([{ method: 'POST', path: `/hooks/${SECRET}`, contentType: 'application/json', body: COMPAT_PAYLOAD }]);
    expect(await outcomes()).toEqual({ sent: 1, failed: 0, suppressed: 0 });
  });

  it('counts a 500 from the receiver as failed and logs its status', async () => {
    status = 500;
    const { notifier, entries, outcomes } = setup({ url: `${base}/hooks/${SECRET}` });

    await notifier.notify({ title: 'read failed', error: 'throttled' });

    expect(received).toHaveLength(1);
    expect(await outcomes()).toEqual({ sent: 0, failed: 1, suppressed: 0 });
    expect(entries).toContainEqual(expect.objectContaining({ level: 'warn', status: 500 }));
    expect(JSON.stringify(entries)).not.toContain(SECRET);
  });
});

async function readBody(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  return body;
}
