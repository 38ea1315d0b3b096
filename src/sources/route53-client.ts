import { Route53Client, type Route53ClientConfig } from '@aws-sdk/client-route-53';

/** A Route53 client for the reader; credentials come from the SDK's default chain unless given. */
export function createRoute53Client(
  options: { endpoint?: string; region?: string; credentials?: Route53ClientConfig['credentials'] } = {},
): Route53Client {
  return new Route53Client({
    // Route53 is a global service signed in us-east-1; AWS_REGION still wins for partitions such as aws-cn.
    region: options.region || process.env.AWS_REGION || 'us-east-1',
    // One HTTP attempt per send: the reader's p-retry owns retries, so SDK and p-retry attempts never multiply.
    maxAttempts: 1,
    // Without these a blackholed endpoint hangs a request for minutes (OS connect timeout, 300 s idle): the poll
    // would outlive the liveness window and never report. A timeout is a network error, retried like one.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 20_000, throwOnRequestTimeout: true },
    // Left out when unset so the SDK still honours AWS_ENDPOINT_URL_ROUTE_53 and AWS_ENDPOINT_URL.
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
}
