import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedPost {
  headers: IncomingHttpHeaders;
  /** The raw body. */
  text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: unknown;
  /** Date.now() when the body had arrived. */
  at: number;
}

/** A stand-in for a Mattermost/Slack incoming webhook on loopback. */
export interface WebhookReceiver {
  /** http://127.0.0.1:<port>/hooks/test */
  readonly url: string;
  /** Every POST received so far, in arrival order, recorded as soon as its body arrived. */
  readonly posts: readonly ReceivedPost[];
  /** The JSON bodies of `posts`. */
  readonly bodies: readonly unknown[];
  /** Resolves with the bodies once at least `count` POSTs arrived; rejects after `timeoutMs`. */
  waitForBodies(count: number, timeoutMs: number): Promise<unknown[]>;
  /** Answers later requests with this status (200 again with `respondWith(200)`). */
  respondWith(status: number): void;
  /** Holds each later answer back this long (0 answers at once again), like a hook that hangs. */
  respondSlowly(ms: number): void;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const posts: ReceivedPost[] = [];
  const waiters = new Set<() => void>();
  const pendingAnswers = new Set<NodeJS.Timeout>();
  let status = 200;
  let delayMs = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST') {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        posts.push({ headers: req.headers, text, json, at: Date.now() });
        for (const wake of waiters) wake();
      }
      const answer = (): void => {
        res.statusCode = req.method === 'POST' ? status : 405;
        res.end(res.statusCode < 300 ? 'ok' : 'failing on purpose');
      };
      if (delayMs === 0) return answer();
      const timer = setTimeout(() => {
        pendingAnswers.delete(timer);
        answer();
      }, delayMs);
      pendingAnswers.add(timer);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/hooks/test`,
    posts,
    get bodies() {
      return posts.map((p) => p.json);
    },
    waitForBodies(count, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (posts.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(posts.map((p) => p.json));
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`webhook receiver got ${posts.length} of ${count} POSTs within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    respondWith(next) {
      status = next;
    },
    respondSlowly(ms) {
      delayMs = ms;
    },
    async stop() {
      for (const timer of pendingAnswers) clearTimeout(timer);
      pendingAnswers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
