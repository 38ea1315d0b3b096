import { Writable } from 'node:stream';
import {
  ApiException,
  type CoreV1Api,
  type CoreV1ApiCreateNamespacedConfigMapRequest,
  type CoreV1ApiReadNamespacedConfigMapRequest,
  type CoreV1ApiReplaceNamespacedConfigMapRequest,
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

type Method = 'create' | 'replace' | 'read';
type ConfigMapApi = Pick<CoreV1Api, 'createNamespacedConfigMap' | 'replaceNamespacedConfigMap' | 'readNamespacedConfigMap'>;

/**
 * One ConfigMap held the way the apiserver holds it: resourceVersion checked on replace (409 Conflict), create of an
 * existing object refused (409 AlreadyExists), 404 for a missing one. `failNext` injects other answers.
 */
export class FakeConfigMapApi implements ConfigMapApi {
  readonly calls: Array<{ method: Method; body?: V1ConfigMap }> = [];
  /** Runs before each replace is answered, to play another writer racing us. */
  beforeReplace: (() => void) | undefined;
  private stored: V1ConfigMap | undefined;
  private version = 100;
  private readonly faults: Array<{ method: Method; error: unknown }> = [];

  /** Stores `object` as if another client had written it; returns what a read would answer. */
  put(object: V1ConfigMap): V1ConfigMap {
    this.stored = this.stamp(object);
    return structuredClone(this.stored);
  }

  /** Another writer changing the stored object, which moves its resourceVersion on. */
  edit(change: (object: V1ConfigMap) => void): void {
    if (this.stored === undefined) throw new Error('nothing stored to edit');
    const copy = structuredClone(this.stored);
    change(copy);
    this.stored = this.stamp(copy);
  }

  get current(): V1ConfigMap | undefined {
    return structuredClone(this.stored);
  }

  failNext(method: Method, error: unknown): void {
    this.faults.push({ method, error });
  }

  async createNamespacedConfigMap(param: CoreV1ApiCreateNamespacedConfigMapRequest): Promise<V1ConfigMap> {
    this.record('create', param.body);
    if (this.stored !== undefined) throw apiError(409, 'AlreadyExists', `configmaps "${param.body.metadata?.name}" already exists`);
    this.stored = this.stamp(param.body);
    return structuredClone(this.stored);
  }

  async replaceNamespacedConfigMap(param: CoreV1ApiReplaceNamespacedConfigMapRequest): Promise<V1ConfigMap> {
    this.record('replace', param.body);
    this.beforeReplace?.();
    if (this.stored === undefined) throw apiError(404, 'NotFound', `configmaps "${param.name}" not found`);
    if (param.body.metadata?.resourceVersion !== this.stored.metadata?.resourceVersion) {
      throw apiError(409, 'Conflict', `Operation cannot be fulfilled on configmaps "${param.name}": the object has been modified`);
    }
    this.stored = this.stamp(param.body);
    return structuredClone(this.stored);
  }

  async readNamespacedConfigMap(param: CoreV1ApiReadNamespacedConfigMapRequest): Promise<V1ConfigMap> {
    this.record('read');
    if (this.stored === undefined) throw apiError(404, 'NotFound', `configmaps "${param.name}" not found`);
    return structuredClone(this.stored);
  }

  private record(method: Method, body?: V1ConfigMap): void {
    this.calls.push(body === undefined ? { method } : { method, body: structuredClone(body) });
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
