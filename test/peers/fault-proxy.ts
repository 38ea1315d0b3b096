import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * - `throttle`: HTTP 400 with Route53's `Throttling` error body, as AWS answers past its rate limit.
 * - `server-error`: HTTP 503 with a Route53 `ServiceUnavailable` error body.
 * - `slow`: waits `delayMs`, then forwards.
 * - `reset`: destroys the connection without an answer.
 */
export type FaultKind = 'throttle' | 'server-error' | 'slow' | 'reset';

export interface FaultOptions {
  /** How many requests get this fault; without it, every request until `clear()`. */
  times?: number;
  /** For `slow`. */
  delayMs?: number;
}

/** One request as the proxy saw it, faulted or not. */
export interface SeenRequest {
  /** performance.now() at arrival. */
  at: number;
  method: string;
  path: string;
  /** From the SigV4 Authorization header (`Credential=<key>/...`): whose credentials, so which account. */
  accessKeyId: string | undefined;
  /** The signing scope's service (`route53`, `sts`). */
  service: string | undefined;
  body: string;
}

/** Credentials an AssumeRole answer handed out, as the proxy passed them on. */
export interface IssuedSession {
  accessKeyId: string;
  /** performance.now() at which the answer says they expire. */
  expiresAt: number;
}

/** An HTTP proxy in front of moto that injects faults on demand. */
export interface FaultProxy {
  /** Every request so far, in arrival order. */
  readonly requests: readonly SeenRequest[];
  /**
   * Answers every request whose body contains `bodyIncludes` with STS's 403 AccessDenied until `clear()`, as AWS
   * answers an AssumeRole the role's trust policy refuses (moto itself never refuses one).
   */
  denyAccess(bodyIncludes: string): void;
  /**
   * Rewrites the `Expiration` of the STS answers to requests whose body contains `bodyIncludes` to `lifetimeMs` from
   * now, until `clear()`: moto's sessions last at least 15 minutes, too long to see a client renew one.
   */
  shortenSessions(bodyIncludes: string, lifetimeMs: number): void;
  /** Every session an AssumeRole answer handed out, in order. */
  readonly sessions: readonly IssuedSession[];
  /** http://127.0.0.1:<port>, an SDK client's `endpoint`. */
  readonly url: string;
  /** Requests passed on to the target (a `slow` one counts once it is passed on). */
  readonly forwarded: number;
  /** Requests a fault applied to, `slow` ones included. */
  readonly faulted: number;
  faultedBy(kind: FaultKind): number;
  /**
   * Queues a fault for the next requests; queued faults apply in order, each to its `times` requests. A fault
   * without `times` stays until `clear()`, so faults queued after it never apply.
   */
  inject(kind: FaultKind, options?: FaultOptions): void;
  /** Drops every queued fault and denial; later requests are forwarded untouched. */
  clear(): void;
  stop(): Promise<void>;
}

const ROUTE53_XMLNS = 'https://route53.amazonaws.com/doc/2013-04-01/';

/** Route53's error document (restXml), as AWS sends it with a 4xx/5xx status. */
function errorBody(type: 'Sender' | 'Receiver', code: string, message: string, requestId: string): string {
  return (
    `<?xml version="1.0"?>\n<ErrorResponse xmlns="${ROUTE53_XMLNS}"><Error><Type>${type}</Type>` +
    `<Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

/** STS's error document (awsQuery protocol). */
function stsErrorBody(code: string, message: string, requestId: string): string {
  return (
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code>` +
    `<Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

function answerWithError(res: ServerResponse, status: number, body: (requestId: string) => string): void {
  const requestId = randomUUID();
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
  res.end(body(requestId));
}

interface QueuedFault {
  kind: FaultKind;
  remaining: number;
  delayMs: number;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const queue: QueuedFault[] = [];
  const counts: Record<FaultKind, number> = { throttle: 0, 'server-error': 0, slow: 0, reset: 0 };
  const timers = new Set<NodeJS.Timeout>();
  let forwarded = 0;

  const takeFault = (): QueuedFault | undefined => {
    const head = queue[0];
    if (head === undefined) return undefined;
    head.remaining--;
    if (head.remaining === 0) queue.shift();
    return head;
  };

  const sessions: IssuedSession[] = [];
  const shortened: { needle: string; lifetimeMs: number }[] = [];

  /** Passes an STS answer on whole, its expiry rewritten when asked, and notes the session it hands out. */
  const relaySession = (answer: IncomingMessage, res: ServerResponse, lifetimeMs: number | undefined): void => {
    const chunks: Buffer[] = [];
    answer.on('data', (chunk: Buffer) => chunks.push(chunk));
    answer.once('end', () => {
      let text = Buffer.concat(chunks).toString('utf8');
      const accessKeyId = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(text)?.[1];
      const expiration = /<Expiration>([^<]+)<\/Expiration>/.exec(text)?.[1];
      if (accessKeyId !== undefined && expiration !== undefined) {
        const lifetime = lifetimeMs ?? Date.parse(expiration) - Date.now();
        if (lifetimeMs !== undefined) {
          text = text.replace(expiration, new Date(Date.now() + lifetimeMs).toISOString());
        }
        sessions.push({ accessKeyId, expiresAt: performance.now() + lifetime });
      }
      const headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(text)) };
      res.writeHead(answer.statusCode ?? 502, headers);
      res.end(text);
    });
  };

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, seenAs: SeenRequest): void => {
    forwarded++;
    const lifetimeMs = shortened.find(({ needle }) => seenAs.body.includes(needle))?.lifetimeMs;
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (seenAs.service === 'sts' && seenAs.body.includes('Action=AssumeRole')) return relaySession(answer, res, lifetimeMs);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.once('error', () => res.destroy());
    upstream.end(body);
  };

  const seen: SeenRequest[] = [];
  const denied: string[] = [];
  // Bodies are read whole before anything is decided: they are small, and a denial depends on them.
  const server = createServer((req, res) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => handle(req, Buffer.concat(chunks), res, at));
  });
  const handle = (req: IncomingMessage, body: Buffer, res: ServerResponse, at: number): void => {
    const text = body.toString('utf8');
    const credential = /Credential=([^/,\s]+)\/[^/]*\/[^/]*\/([^/]+)\//.exec(req.headers.authorization ?? '');
    const seenAs = {
      at,
      method: req.method ?? '',
      path: req.url ?? '',
      accessKeyId: credential?.[1],
      service: credential?.[2],
      body: text,
    };
    seen.push(seenAs);
    if (denied.some((needle) => text.includes(needle))) {
      answerWithError(res, 403, (id) => stsErrorBody('AccessDenied', 'User is not authorized to perform: sts:AssumeRole', id));
      return;
    }
    const fault = takeFault();
    if (fault === undefined) return forward(req, body, res, seenAs);
    counts[fault.kind]++;
    switch (fault.kind) {
      case 'throttle':
        answerWithError(res, 400, (id) => errorBody('Sender', 'Throttling', 'Rate exceeded', id));
        return;
      case 'server-error':
        answerWithError(res, 503, (id) => errorBody('Receiver', 'ServiceUnavailable', 'Service unavailable', id));
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          forward(req, body, res, seenAs);
        }, fault.delayMs);
        timers.add(timer);
        return;
      }
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get forwarded() {
      return forwarded;
    },
    get faulted() {
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    faultedBy: (kind) => counts[kind],
    requests: seen,
    denyAccess(bodyIncludes) {
      denied.push(bodyIncludes);
    },
    shortenSessions(bodyIncludes, lifetimeMs) {
      shortened.push({ needle: bodyIncludes, lifetimeMs });
    },
    sessions,
    inject(kind, options = {}) {
      if (kind === 'slow' && options.delayMs === undefined) throw new Error('a slow fault needs delayMs');
      if (options.times !== undefined && !(options.times >= 1)) {
        throw new Error(`times must be at least 1, not ${options.times}`);
      }
      queue.push({ kind, remaining: options.times ?? Infinity, delayMs: options.delayMs ?? 0 });
    },
    clear() {
      queue.length = 0;
      denied.length = 0;
      shortened.length = 0;
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
