import {
  InvalidInput,
  ListResourceRecordSetsCommand,
  NoSuchHostedZone,
  PriorRequestNotComplete,
  Route53ServiceException,
  type ListResourceRecordSetsCommandOutput,
  type ListResourceRecordSetsRequest,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { Metrics } from '../../../src/metrics.ts';
import { metricValue } from '../metric-value.ts';

/** Errors shaped as @aws-sdk/client-route-53 3.x and Node raise them (checked against the real SDK over loopback). */
export const sdkErrors = {
  throttling: () =>
    new Route53ServiceException({ name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }),
  priorRequestNotComplete: () =>
    new PriorRequestNotComplete({
      $metadata: { httpStatusCode: 400 },
      message: 'The request was rejected because Route 53 was still processing a prior request.',
    }),
  serviceUnavailable: () =>
    new Route53ServiceException({ name: 'Unknown', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'UnknownError' }),
  socketHangUp: () => Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET', $metadata: {} }),
  connectionRefused: () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', $metadata: {} }),
  noSuchHostedZone: (zone: string) =>
    new NoSuchHostedZone({ $metadata: { httpStatusCode: 404 }, message: `No hosted zone found with ID: ${zone}` }),
  accessDenied: () =>
    new Route53ServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
      message: 'User is not authorized to perform: route53:ListResourceRecordSets',
    }),
  invalidInput: () => new InvalidInput({ $metadata: { httpStatusCode: 400 }, message: 'Invalid request' }),
};

export function record(Name: string, Type: string, extra: Partial<ResourceRecordSet> = {}): ResourceRecordSet {
  return { Name, Type: Type as ResourceRecordSet['Type'], TTL: 60, ResourceRecords: [{ Value: '10.0.0.1' }], ...extra };
}

type Page = Omit<ListResourceRecordSetsCommandOutput, '$metadata' | 'MaxItems' | 'IsTruncated'> & { IsTruncated?: boolean };
export type Step = Page | Error;

/**
 * A `send` that answers each zone's requests from its script, in order, and records every request it receives.
 * A request the script did not plan for fails the test.
 */
export function scriptedRoute53(script: Record<string, Step[]>) {
  const requests: ListResourceRecordSetsRequest[] = [];
  const abortSignals: (AbortSignal | undefined)[] = [];
  const send = async (command: unknown, options?: { abortSignal?: AbortSignal }) => {
    if (!(command instanceof ListResourceRecordSetsCommand)) throw new Error('unexpected command');
    requests.push(command.input);
    abortSignals.push(options?.abortSignal);
    const step = script[command.input.HostedZoneId ?? '']?.shift();
    if (step === undefined) throw new Error(`unscripted request ${JSON.stringify(command.input)}`);
    if (step instanceof Error) throw step;
    return { $metadata: {}, MaxItems: 300, IsTruncated: false, ...step };
  };
  return { client: { send } as unknown as Pick<Route53Client, 'send'>, requests, abortSignals };
}

export function requestCount(metrics: Metrics, zone: string, outcome: string): Promise<number> {
  return metricValue(metrics.route53Requests, { zone, outcome });
}

export async function pollCount(metrics: Metrics, outcome: 'success' | 'error'): Promise<number> {
  const { values } = await metrics.route53PollDuration.get();
  return values.find((v) => v.metricName?.endsWith('_count') && v.labels.outcome === outcome)?.value ?? 0;
}
