import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { KubeConnection } from './connection.ts';

const USER_AGENT = 'thanos-store-discovery';

export type Query = Record<string, string | number | boolean | undefined>;

/** The API server answered with an error status; `reason` and `message` come from its Status body when it sent one. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly code: number;
  readonly reason: string | undefined;
  readonly body: string;

  constructor(code: number, body: string) {
    const status = parseStatus(body);
    super(`HTTP ${code}${status.reason ? ` ${status.reason}` : ''}${status.message ? `: ${status.message}` : ''}`);
    this.code = code;
    this.reason = status.reason;
    this.body = body;
  }
}

/** The HTTP status of a failed Kubernetes API call, or undefined when the call never got an answer. */
export function apiStatusCode(error: unknown): number | undefined {
  return error instanceof KubeApiError ? error.code : undefined;
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
}

/**
 * The few JSON requests and watches this controller makes, over one keep-alive connection pool. A client of our
 * own rather than `@kubernetes/client-node`: loading that library (its fetch stack and generated model layer) cost
 * about 30 MB of the process's resident memory and a third of a run's CPU, for calls this file makes in a page.
 */
export class KubeClient {
  private readonly connection: KubeConnection;
  private readonly timeoutMs: number;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  constructor(connection: KubeConnection, options: { timeoutMs: number }) {
    this.connection = connection;
    this.timeoutMs = options.timeoutMs;
    const secure = connection.server.protocol === 'https:';
    const tls = {
      ...(connection.ca === undefined ? {} : { ca: connection.ca }),
      ...(connection.cert === undefined ? {} : { cert: connection.cert }),
      ...(connection.key === undefined ? {} : { key: connection.key }),
      rejectUnauthorized: !connection.insecureSkipTlsVerify,
      ...(connection.tlsServerName === undefined ? {} : { servername: connection.tlsServerName }),
    };
    this.agent = secure ? new HttpsAgent({ keepAlive: true, ...tls }) : new HttpAgent({ keepAlive: true });
    this.send = secure ? httpsRequest : httpRequest;
  }

  /** One request, its JSON answer parsed; rejects with KubeApiError on an error status, and after the timeout. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const response = await this.open(method, path, options, signal);
    const text = await readText(response);
    if ((response.statusCode ?? 0) >= 300) throw new KubeApiError(response.statusCode ?? 0, text);
    return JSON.parse(text) as T;
  }

  /**
   * A watch: each event's type and object go to `onEvent`, and `done` is called once, with undefined when the server
   * ended the stream (its `timeoutSeconds`) or with the error. The returned controller ends it early.
   */
  async watch(
    path: string,
    query: Query,
    onEvent: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController> {
    const controller = new AbortController();
    let finished = false;
    const finish = (error: unknown): void => {
      if (finished) return;
      finished = true;
      done(error);
    };
    // The answer's head must come within the request timeout; the stream itself may then stay quiet for minutes.
    const headTimer = setTimeout(() => controller.abort(new Error('the watch request got no answer in time')), this.timeoutMs);
    let response: IncomingMessage;
    try {
      response = await this.open('GET', path, { query: { ...query, watch: true } }, controller.signal);
    } finally {
      clearTimeout(headTimer);
    }
    if ((response.statusCode ?? 0) >= 300) {
      finish(new KubeApiError(response.statusCode ?? 0, await readText(response).catch(() => '')));
      return controller;
    }
    response.setEncoding('utf8');
    let pending = '';
    response.on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line === '') continue;
        let event: { type?: string; object?: unknown };
        try {
          event = JSON.parse(line) as typeof event;
        } catch (error) {
          controller.abort();
          finish(new Error(`watch sent a line that is not JSON: ${(error as Error).message}`));
          return;
        }
        onEvent(event.type ?? '', event.object);
      }
    });
    response.once('end', () => finish(undefined));
    response.once('error', (error) => finish(controller.signal.aborted ? undefined : error));
    response.once('close', () => finish(controller.signal.aborted ? undefined : new Error('watch connection closed')));
    return controller;
  }

  /** Sends the request and resolves with the response head; the body is the caller's to read. */
  private async open(method: string, path: string, options: RequestOptions, signal: AbortSignal): Promise<IncomingMessage> {
    // Appended, not resolved: a server URL may carry a path of its own (a proxy such as Rancher's).
    const url = new URL(`${this.connection.server.href.replace(/\/+$/, '')}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const authorization = await this.connection.authorization();
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': USER_AGENT,
      ...(authorization === undefined ? {} : { Authorization: authorization }),
      ...(body === undefined
        ? {}
        : { 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }),
    };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const request = this.send(url, { method, headers, agent: this.agent, signal }, resolve);
      request.once('error', reject);
      request.end(body);
    });
  }
}

async function readText(response: IncomingMessage): Promise<string> {
  response.setEncoding('utf8');
  let text = '';
  for await (const chunk of response) text += chunk as string;
  return text;
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
