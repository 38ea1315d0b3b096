import { Writable } from 'node:stream';
import { KubeApiError } from '../../../src/kube/client.ts';
import type { KubeApi } from '../../../src/kube/api.ts';
import type { ConfigMap } from '../../../src/kube/types.ts';
import winston from 'winston';
import type { Logger } from '../../../src/logger.ts';

/** A KubeApiError as the client builds it: the raw Status JSON as the body. */
export function apiError(code: number, reason: string, message = reason): KubeApiError {
  const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
  return new KubeApiError(code, JSON.stringify(status));
}

export interface CapturedLogger {
  logger: Logger;
  entries: Array<Record<string, unknown>>;
}

/** A real winston logger whose records land in `entries`, to assert what was (and was not) logged. */
export function captureLogger(): CapturedLogger {
  const entries: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    objectMode: true,
    write(chunk: Record<string, unknown>, _encoding, done) {
      entries.push(chunk);
      done();
    },
  });
  const logger = winston.createLogger({ level: 'debug', transports: [new winston.transports.Stream({ stream })] });
  return { logger, entries };
}

type Method = 'create' | 'apply';
type ConfigMapApi = Pick<KubeApi, 'createConfigMap' | 'applyConfigMap'>;

export interface ConfigMapCall {
  method: Method;
  body: ConfigMap;
  fieldManager: string;
}

/**
 * One ConfigMap held the way the apiserver holds it, as far as the writer can tell: create of an existing object
 * refused (409 AlreadyExists); a server-side apply creates a missing object or merges the fields it lists into the
 * stored one, and moves the resourceVersion on only when that changed something. `failNext` injects other answers.
 * Field ownership is the real apiserver's business: the integration tests check it there.
 */
export class FakeConfigMapApi implements ConfigMapApi {
  readonly calls: ConfigMapCall[] = [];
  private stored: ConfigMap | undefined;
  private version = 100;
  private readonly faults: Array<{ method: Method; error: unknown }> = [];

  /** Stores `object` as if another client had written it; returns what a read would answer. */
  put(object: ConfigMap): ConfigMap {
    this.stored = this.stamp(object);
    return structuredClone(this.stored);
  }

  get current(): ConfigMap | undefined {
    return structuredClone(this.stored);
  }

  failNext(method: Method, error: unknown): void {
    this.faults.push({ method, error });
  }

  async createConfigMap(_namespace: string, body: ConfigMap, fieldManager: string): Promise<ConfigMap> {
    this.record('create', body, fieldManager);
    if (this.stored !== undefined) throw apiError(409, 'AlreadyExists', `configmaps "${body.metadata?.name}" already exists`);
    this.stored = this.stamp(body);
    return structuredClone(this.stored);
  }

  async applyConfigMap(_namespace: string, _name: string, body: ConfigMap, fieldManager: string): Promise<ConfigMap> {
    this.record('apply', body, fieldManager);
    if (this.stored === undefined) {
      this.stored = this.stamp(body);
      return structuredClone(this.stored);
    }
    const merged: ConfigMap = {
      ...this.stored,
      metadata: { ...this.stored.metadata, annotations: { ...this.stored.metadata?.annotations, ...body.metadata?.annotations } },
      data: { ...this.stored.data, ...body.data },
    };
    if (JSON.stringify(merged) !== JSON.stringify(this.stored)) this.stored = this.stamp(merged);
    return structuredClone(this.stored);
  }

  private record(method: Method, body: ConfigMap, fieldManager: string): void {
    this.calls.push({ method, body: structuredClone(body), fieldManager });
    const index = this.faults.findIndex((fault) => fault.method === method);
    if (index === -1) return;
    const [fault] = this.faults.splice(index, 1);
    throw fault?.error;
  }

  private stamp(object: ConfigMap): ConfigMap {
    const copy = structuredClone(object);
    copy.metadata = { ...copy.metadata, resourceVersion: String(++this.version) };
    return copy;
  }
}
