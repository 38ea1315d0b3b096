import { Writable } from 'node:stream';
import {
  ApiException,
  type Configuration,
  type ConfigurationOptions,
  type CoreV1Api,
  type CoreV1ApiCreateNamespacedConfigMapRequest,
  type CoreV1ApiPatchNamespacedConfigMapRequest,
  type RequestContext,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import winston from 'winston';
import type { Logger } from '../../../src/logger.ts';

/** An ApiException as the client builds it: the raw Status JSON as the body. */
export function apiError(code: number, reason: string, message = reason): ApiException<string> {
  const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
  return new ApiException(code, reason, JSON.stringify(status), { 'content-type': 'application/json' });
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
type ConfigMapApi = Pick<CoreV1Api, 'createNamespacedConfigMap' | 'patchNamespacedConfigMap'>;

export interface ConfigMapCall {
  method: Method;
  body: V1ConfigMap;
  fieldManager: string | undefined;
  force: boolean | undefined;
  /** Headers the call's per-request middleware sets (the patch content type). */
  headers: Record<string, string>;
}

/** Runs each per-request middleware on a bare request, to read the headers it sets. */
function headersSetBy(options: Configuration | ConfigurationOptions | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  const middleware = options?.middleware ?? [];
  for (const step of middleware)
    step.pre({ setHeaderParam: (key: string, value: string) => (headers[key] = value) } as unknown as RequestContext);
  return headers;
}

/**
 * One ConfigMap held the way the apiserver holds it, as far as the writer can tell: create of an existing object
 * refused (409 AlreadyExists); a server-side apply creates a missing object or merges the fields it lists into the
 * stored one, and moves the resourceVersion on only when that changed something. `failNext` injects other answers.
 * Field ownership is the real apiserver's business: the integration tests check it there.
 */
export class FakeConfigMapApi implements ConfigMapApi {
  readonly calls: ConfigMapCall[] = [];
  private stored: V1ConfigMap | undefined;
  private version = 100;
  private readonly faults: Array<{ method: Method; error: unknown }> = [];

  /** Stores `object` as if another client had written it; returns what a read would answer. */
  put(object: V1ConfigMap): V1ConfigMap {
    this.stored = this.stamp(object);
    return structuredClone(this.stored);
  }

  get current(): V1ConfigMap | undefined {
    return structuredClone(this.stored);
  }

  failNext(method: Method, error: unknown): void {
    this.faults.push({ method, error });
  }

  async createNamespacedConfigMap(param: CoreV1ApiCreateNamespacedConfigMapRequest): Promise<V1ConfigMap> {
    this.record('create', param.body, param.fieldManager, undefined, undefined);
    if (this.stored !== undefined) throw apiError(409, 'AlreadyExists', `configmaps "${param.body.metadata?.name}" already exists`);
    this.stored = this.stamp(param.body);
    return structuredClone(this.stored);
  }

  async patchNamespacedConfigMap(
    param: CoreV1ApiPatchNamespacedConfigMapRequest,
    options?: Configuration | ConfigurationOptions,
  ): Promise<V1ConfigMap> {
    const body = param.body as V1ConfigMap;
    this.record('apply', body, param.fieldManager, param.force, options);
    if (this.stored === undefined) {
      this.stored = this.stamp(body);
      return structuredClone(this.stored);
    }
    const merged: V1ConfigMap = {
      ...this.stored,
      metadata: { ...this.stored.metadata, annotations: { ...this.stored.metadata?.annotations, ...body.metadata?.annotations } },
      data: { ...this.stored.data, ...body.data },
    };
    if (JSON.stringify(merged) !== JSON.stringify(this.stored)) this.stored = this.stamp(merged);
    return structuredClone(this.stored);
  }

  private record(
    method: Method,
    body: V1ConfigMap,
    fieldManager: string | undefined,
    force: boolean | undefined,
    options: Configuration | ConfigurationOptions | undefined,
  ): void {
    this.calls.push({ method, body: structuredClone(body), fieldManager, force, headers: headersSetBy(options) });
    const index = this.faults.findIndex((fault) => fault.method === method);
    if (index === -1) return;
    const [fault] = this.faults.splice(index, 1);
    throw fault?.error;
  }

  private stamp(object: V1ConfigMap): V1ConfigMap {
    const copy = structuredClone(object);
    copy.metadata = { ...copy.metadata, resourceVersion: String(++this.version) };
    return copy;
  }
}
