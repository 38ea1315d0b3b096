import { KubeApiError, apiStatusCode } from '../kube/client.ts';
import { describeError } from '../logger.ts';

/** A write to the Kubernetes API that failed; `resource` reads like `ConfigMap monitoring/thanos-sd`. */
export class KubernetesWriteError extends Error {
  override readonly name = 'KubernetesWriteError';
  readonly resource: string;
  readonly status: number | undefined;

  constructor(options: { resource: string; operation: string; cause: unknown; detail?: string }) {
    const detail = options.detail === undefined ? '' : ` ${options.detail}`;
    super(`${options.operation} of ${options.resource} failed${detail}: ${describeKubernetesError(options.cause)}`, {
      cause: options.cause,
    });
    this.resource = options.resource;
    this.status = apiStatusCode(options.cause);
  }
}

/** One line for a log or an error message: the status code with the Status reason and message, or the failure. */
export function describeKubernetesError(cause: unknown): string {
  return cause instanceof KubeApiError ? cause.message : describeError(cause);
}
