import type { Route53Client } from '@aws-sdk/client-route-53';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { createRoute53Client } from './route53-client.ts';
import { route53Budget } from './route53-throttle.ts';
import { accountOf, type ZoneSource } from './zone-sources-config.ts';

type Send = Pick<Route53Client, 'send'>;

// The longest session every role allows by default; the SDK renews credentials 5 minutes before they expire.
const SESSION_SECONDS = 3_600;

/**
 * A Route53 client per source: the pod's own credentials (default chain: IRSA, instance profile, env), or a role
 * assumed from them through STS (optional external id, a session name saying who asks). Sources of one account
 * draw on one request budget; sources naming the same role and external id share one client and one session.
 * A role that cannot be assumed fails only the requests of its sources.
 */
export function createSourceClients(
  sources: readonly ZoneSource[],
  options: { maxRps: number; sessionName: string; own: Send },
): Map<string, { client: Send; account: string }> {
  const budgets = new Map<string, (client: Send) => Send>();
  const byRole = new Map<string, Send>();
  const clients = new Map<string, { client: Send; account: string }>();
  for (const source of sources) {
    const account = accountOf(source);
    const roleKey = source.role === undefined ? '' : `${source.role.arn} ${source.role.externalId ?? ''}`;
    let client = byRole.get(roleKey);
    if (client === undefined) {
      let budget = budgets.get(account);
      if (budget === undefined) {
        budget = route53Budget(options.maxRps);
        budgets.set(account, budget);
      }
      client = budget(source.role === undefined ? options.own : assumingClient(source.role, options.sessionName));
      byRole.set(roleKey, client);
    }
    clients.set(source.name, { client, account });
  }
  return clients;
}

function assumingClient(role: NonNullable<ZoneSource['role']>, sessionName: string): Route53Client {
  return createRoute53Client({
    credentials: fromTemporaryCredentials({
      params: {
        RoleArn: role.arn,
        RoleSessionName: sessionName,
        DurationSeconds: SESSION_SECONDS,
        ...(role.externalId === undefined ? {} : { ExternalId: role.externalId }),
      },
    }),
  });
}
