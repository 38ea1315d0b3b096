// Zone sources across AWS accounts against moto: moto keeps zones per account and runs the requests of credentials
// from AssumeRole in the role's account, so each role below reaches its own account's zones only. STS and Route53
// both go through the fault proxy, which records every request (its access key tells the account) and can refuse
// an AssumeRole as a trust policy would.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { assumeRoleCredentials, route53Fixture, type Route53Fixture } from '../peers/route53-fixture.ts';
import type { SeenRequest } from '../peers/fault-proxy.ts';
import type { ControllerProcess, LogLine } from '../support/controller-process.ts';
import { createThanosDeployment, expectedFileSd, readConfigMap, SD_KEY } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';
import { aRecords, logTail, METRICS, scenarioSuite, successfulPolls, waitForPolls } from '../support/scenario.ts';

const OWN = '123456789012';
const PROD = '111111111111';
const DEV = '222222222222';
const REFUSED = '333333333333';
const role = (account: string) => `arn:aws:iam::${account}:role/thanos-store-discovery-reader`;
const ZONE_SUCCESS = 'thanos_store_discovery_zone_last_success_timestamp_seconds';
const SOURCE_LISTING = 'thanos_store_discovery_source_last_listing_timestamp_seconds';
const KEPT = 'thanos_store_discovery_endpoints_kept_for_failed_zones';
const POD_NAME = 'tsd-test-pod';

describe('Route53 zone sources in several accounts', () => {
  const suite = scenarioSuite('accounts');
  let dir: string;
  const fixtures = new Map<string, Route53Fixture>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsd-sources-'));
  });
  afterAll(async () => {
    for (const fixture of fixtures.values()) fixture.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fixture in `account`: the default one for OWN, else through a role into it (straight to moto). */
  function inAccount(account: string): Route53Fixture {
    if (account === OWN) return suite.peers.route53;
    let fixture = fixtures.get(account);
    if (fixture === undefined) {
      const endpoint = suite.peers.motoEndpoint;
      fixture = route53Fixture(endpoint, { credentials: assumeRoleCredentials(endpoint, `arn:aws:iam::${account}:role/fixture`) });
      fixtures.set(account, fixture);
    }
    return fixture;
  }

  async function zoneWith(account: string, name: string, hosts: readonly string[], tags: Record<string, string> = {}) {
    const fixture = inAccount(account);
    const id = await fixture.createPrivateZone(name);
    await fixture.upsertRecords(id, aRecords(hosts));
    if (Object.keys(tags).length > 0) await fixture.tagZone(id, tags);
    return id;
  }

  /** A namespace with the Deployment, and a controller reading `sources` (Route53 and STS through the proxy). */
  async function startWithSources(prefix: string, sources: (namespace: string) => unknown[], extra: Record<string, string> = {}) {
    const namespace = await suite.peers.controlPlane.createNamespace(prefix);
    await createThanosDeployment(suite.peers.controlPlane.kubeConfig(), namespace);
    const file = join(dir, `${namespace}.yaml`);
    await writeFile(file, stringify(sources(namespace)));
    const running = await suite.startController(
      namespace,
      [],
      { ROUTE53_SOURCES_FILE: file, AWS_ENDPOINT_URL_STS: suite.peers.proxy.url, POD_NAME, ...extra },
      { route53: 'proxy' },
    );
    // A run-once run serves no metrics.
    if (extra['RUN_ONCE'] !== 'true') {
      await running.waitForLog((line) => line.message === 'serving /metrics, /healthz and /readyz', 'the HTTP server');
    }
    return { namespace, running };
  }

  const published = async (namespace: string) => (await readConfigMap(suite.peers.controlPlane.kubeConfig(), namespace))?.data?.[SD_KEY];

  async function waitForPublished(namespace: string, hosts: readonly string[], running: ControllerProcess, timeoutMs = 60_000) {
    await waitFor(
      async () => (await published(namespace)) === expectedFileSd(hosts),
      `the ConfigMap to hold ${hosts.join(', ')}`,
      timeoutMs,
      logTail(running),
    );
  }

  const sinceStart = (from: number) => suite.peers.proxy.requests.slice(from);
  const assumeRoleCalls = (requests: readonly SeenRequest[], account: string) =>
    requests.filter(
      (request) =>
        request.service === 'sts' && request.body.includes('Action=AssumeRole') && request.body.includes(encodeURIComponent(role(account))),
    );

  it(
    'publishes zones of three accounts, two through roles, found by tag and domain; a zone untagged later leaves through the removal hysteresis',
    suite.logged(async () => {
      const tag = `t${Date.now()}`;
      const own = `a-grpc.own-${tag}.example.internal`;
      const prod = `b-grpc.eu.prod-${tag}.example.com`;
      const dev1 = `c1-grpc.c1-${tag}.example.internal`;
      const dev2 = `c2-grpc.c2-${tag}.example.internal`;
      await zoneWith(OWN, `own-${tag}.example.internal`, [own], { store: tag });
      // Untagged, so the tag source leaves it out.
      await zoneWith(OWN, `other-${tag}.example.internal`, [`x-grpc.other-${tag}.example.internal`]);
      await zoneWith(PROD, `eu.prod-${tag}.example.com`, [prod]);
      // Public: a domain source reads private zones only.
      const publicZone = await inAccount(PROD).createPublicZone(`pub.prod-${tag}.example.com`);
      await inAccount(PROD).upsertRecords(publicZone, aRecords([`p-grpc.pub.prod-${tag}.example.com`]));
      await zoneWith(DEV, `c1-${tag}.example.internal`, [dev1], { store: tag });
      const untagged = await zoneWith(DEV, `c2-${tag}.example.internal`, [dev2], { store: tag });
      // The same tag in an account no source reads with it.
      await zoneWith(REFUSED, `z-${tag}.example.internal`, [`z-grpc.z-${tag}.example.internal`], { store: tag });

      const from = suite.peers.proxy.requests.length;
      const { namespace, running } = await startWithSources(
        'accounts',
        () => [
          { name: 'own', tags: { store: tag } },
          { name: 'prod', roleArn: role(PROD), externalId: 'ext-prod', domains: [`prod-${tag}.example.com`] },
          { name: 'dev', roleArn: role(DEV), tags: { store: tag } },
        ],
        { ROUTE53_DISCOVERY_EVERY_POLLS: '2', REMOVAL_CONFIRM_POLLS: '3' },
      );
      await waitForPublished(namespace, [own, prod, dev1, dev2], running);
      expect(await running.metric(ZONE_SUCCESS, { zone: untagged, account: DEV })).toBeGreaterThan(0);

      await inAccount(DEV).tagZone(untagged, {}, ['store']);
      await waitForPublished(namespace, [own, prod, dev1], running);
      // Missing from two polls, held, removed at the third: never at once.
      const pending = running
        .logs()
        .filter((line: LogLine) => line.message === 'endpoints missing from Route53 stay published until confirmed')
        .filter((line) => (line['hosts'] as string[]).includes(dev2));
      expect(pending.length).toBeGreaterThanOrEqual(2);
      expect(await running.metric(ZONE_SUCCESS, { zone: untagged, account: DEV })).toBe(0);

      // One session per role over every poll (credentials are cached until near expiry), named and with its external id.
      const requests = sinceStart(from);
      const prodCalls = assumeRoleCalls(requests, PROD);
      expect(prodCalls).toHaveLength(1);
      expect(prodCalls[0]!.body).toContain('ExternalId=ext-prod');
      expect(prodCalls[0]!.body).toContain(`RoleSessionName=${encodeURIComponent(`thanos-store-discovery@${namespace}.${POD_NAME}`)}`);
      expect(assumeRoleCalls(requests, DEV)).toHaveLength(1);
      expect(assumeRoleCalls(requests, DEV)[0]!.body).not.toContain('ExternalId');
      expect(running.logs().filter((line) => line.level === 'error')).toEqual([]);
    }),
  );

  it(
    'renews a role’s credentials before they expire and reads on with the new ones, never with expired ones',
    suite.logged(async () => {
      const tag = `e${Date.now()}`;
      const first = `a-grpc.e-${tag}.example.internal`;
      const later = `b-grpc.e-${tag}.example.internal`;
      const zone = await zoneWith(PROD, `e-${tag}.example.internal`, [first], { store: tag });
      // Each session is good for 2 s before the SDK's 5-minute renewal window: renewals come every few polls.
      suite.peers.proxy.shortenSessions(encodeURIComponent(role(PROD)), 300_000 + 2_000);
      const [fromRequests, fromSessions] = [suite.peers.proxy.requests.length, suite.peers.proxy.sessions.length];
      try {
        const { namespace, running } = await startWithSources('renewal', () => [
          { name: 'prod', roleArn: role(PROD), tags: { store: tag } },
        ]);
        await waitForPublished(namespace, [first], running);

        const sessions = () => new Map(suite.peers.proxy.sessions.slice(fromSessions).map((s) => [s.accessKeyId, s.expiresAt]));
        const zoneReads = () => sinceStart(fromRequests).filter((request) => request.path.includes(`/hostedzone/${zone}/rrset`));
        const keysUsed = () => new Set(zoneReads().map((request) => request.accessKeyId));
        await waitFor(async () => keysUsed().size >= 3, 'zone reads signed with three successive sessions', 60_000, logTail(running));
        await inAccount(PROD).upsertRecords(zone, aRecords([first, later]));
        await waitForPublished(namespace, [first, later], running);

        const issued = sessions();
        for (const request of zoneReads()) {
          // Signed only with a session the proxy handed out, and sent before that session expired.
          expect(issued.has(request.accessKeyId!)).toBe(true);
          expect(request.at).toBeLessThan(issued.get(request.accessKeyId!)!);
        }
        expect(assumeRoleCalls(sinceStart(fromRequests), PROD).length).toBeGreaterThanOrEqual(3);
        expect(running.logs().filter((line) => line.level === 'error')).toEqual([]);
      } finally {
        suite.peers.proxy.clear();
      }
    }),
  );

  it(
    'a role that cannot be assumed fails only its source, and its zones come in once it can',
    suite.logged(async () => {
      const tag = `r${Date.now()}`;
      const own = `a-grpc.own-${tag}.example.internal`;
      const refused = `r-grpc.r-${tag}.example.internal`;
      await zoneWith(OWN, `own-${tag}.example.internal`, [own], { store: tag });
      await zoneWith(REFUSED, `r-${tag}.example.internal`, [refused], { store: tag });
      suite.peers.proxy.denyAccess(encodeURIComponent(role(REFUSED)));

      const from = suite.peers.proxy.requests.length;
      const { namespace, running } = await startWithSources('refused', () => [
        { name: 'own', tags: { store: tag } },
        { name: 'refused', roleArn: role(REFUSED), tags: { store: tag } },
      ]);
      await waitForPublished(namespace, [own], running);
      await waitForPolls(running, 2);
      expect(await published(namespace)).toBe(expectedFileSd([own]));
      expect(await running.metric(SOURCE_LISTING, { source: 'refused', account: REFUSED })).toBe(0);
      expect(await running.metric(SOURCE_LISTING, { source: 'own', account: 'own' })).toBeGreaterThan(0);
      const errors = running
        .logs()
        .filter((line) => line.message === 'Route53 zone could not be read; its published endpoints are kept as they are');
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((line) => line['source'] === 'refused' && line['account'] === REFUSED)).toBe(true);
      expect(String(errors[0]!['error'])).toContain('AccessDenied');
      // Refused at STS: no Route53 request ever ran in that account.
      expect(assumeRoleCalls(sinceStart(from), REFUSED).length).toBeGreaterThan(0);

      suite.peers.proxy.clear();
      await waitForPublished(namespace, [own, refused], running);
      expect(await running.metric(SOURCE_LISTING, { source: 'refused', account: REFUSED })).toBeGreaterThan(0);
    }),
  );

  it(
    'publishes a record added in one zone within one poll while another zone is deleted, and keeps the deleted zone’s endpoints',
    suite.logged(async () => {
      const tag = `d${Date.now()}`;
      const [gone, stays, added] = [
        `g-grpc.g-${tag}.example.internal`,
        `s-grpc.s-${tag}.example.internal`,
        `n-grpc.s-${tag}.example.internal`,
      ];
      const goneZone = await zoneWith(OWN, `g-${tag}.example.internal`, [gone]);
      const staysZone = await zoneWith(OWN, `s-${tag}.example.internal`, [stays]);
      const { namespace, running } = await startWithSources('deleted', () => [{ name: 'ids', zoneIds: [goneZone, staysZone] }]);
      await waitForPublished(namespace, [gone, stays], running);

      await suite.peers.route53.deleteRecords(goneZone, aRecords([gone]));
      await suite.peers.route53.deleteZone(goneZone);
      await suite.peers.route53.upsertRecords(staysZone, aRecords([stays, added]));
      const pollsAtChange = await successfulPolls(running);
      await waitForPublished(namespace, [gone, stays, added], running);
      // The poll in flight at the change may have read the zones before it; the next one publishes.
      expect((await successfulPolls(running)) - pollsAtChange).toBeLessThanOrEqual(2);

      await waitForPolls(running, 3);
      expect(await published(namespace)).toBe(expectedFileSd([gone, stays, added]));
      expect(await running.metric(KEPT)).toBe(1);
      expect(await running.metric(METRICS.route53Requests, { zone: goneZone, outcome: 'client_error' })).toBeGreaterThanOrEqual(3);
      const lastGoneRead = await running.metric(ZONE_SUCCESS, { zone: goneZone, account: 'own' });
      expect(await running.metric(ZONE_SUCCESS, { zone: staysZone, account: 'own' })).toBeGreaterThan(lastGoneRead);
    }),
  );

  it(
    'keeps each account within ROUTE53_MAX_RPS on the wire, and counts each account’s requests of a poll as they were sent',
    suite.logged(async () => {
      const tag = `b${Date.now()}`;
      const accounts = [OWN, PROD, DEV];
      const zoneAccount = new Map<string, string>();
      for (const account of accounts) {
        for (const zone of ['one', 'two']) {
          const id = await zoneWith(
            account,
            `${zone}-${account}-${tag}.example.internal`,
            [`${zone}-grpc.${zone}-${account}-${tag}.example.internal`],
            { store: tag },
          );
          zoneAccount.set(id, account);
        }
      }
      const from = suite.peers.proxy.requests.length;
      const { running } = await startWithSources(
        'budget',
        () => [
          { name: 'own', tags: { store: tag } },
          { name: 'prod', roleArn: role(PROD), tags: { store: tag } },
          { name: 'dev', roleArn: role(DEV), tags: { store: tag } },
        ],
        // One poll that ends, so every request on the wire belongs to a poll that reported its count.
        { ROUTE53_MAX_RPS: '1', RUN_ONCE: 'true' },
      );
      expect(await running.exited).toBe(0);

      const route53 = sinceStart(from).filter((request) => request.service === 'route53');
      // Each account's key, told by the zones it read.
      const accountOfKey = new Map<string, string>();
      for (const request of route53) {
        const zone = /\/hostedzone\/([^/]+)\/rrset/.exec(request.path)?.[1];
        if (zone !== undefined && zoneAccount.has(zone)) accountOfKey.set(request.accessKeyId!, zoneAccount.get(zone)!);
      }
      expect(new Set(accountOfKey.values())).toEqual(new Set(accounts));
      const byAccount = new Map<string, number[]>();
      for (const request of route53) {
        const account = accountOfKey.get(request.accessKeyId!);
        if (account === undefined) throw new Error(`a Route53 request with an unknown key: ${request.method} ${request.path}`);
        byAccount.set(account, [...(byAccount.get(account) ?? []), request.at]);
      }
      // At one request a second, an account's requests start a second apart. On the wire the gaps vary by what
      // happens between a request's turn and its arrival (signing, a loaded machine), so the bound is half the
      // spacing: unthrottled, they arrive within milliseconds of each other.
      for (const [, times] of byAccount) {
        // Listing (ListHostedZones, ListTagsForResources) and two zones: enough requests to need the budget.
        expect(times.length).toBeGreaterThanOrEqual(4);
        // From the second request on: the first of a role's account waits for AssumeRole after its turn.
        const sorted = [...times].sort((a, b) => a - b).slice(1);
        const gaps = sorted.slice(1).map((time, i) => time - sorted[i]!);
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(500);
      }

      const label = (account: string) => (account === OWN ? 'own' : account);
      const logged = new Map<string, number>();
      const polls = running.logs().filter((entry) => entry.message === 'read Route53 zones');
      expect(polls).toHaveLength(1);
      for (const line of polls) {
        for (const [account, count] of Object.entries(line['requestsByAccount'] as Record<string, number>)) {
          logged.set(account, (logged.get(account) ?? 0) + count);
        }
      }
      expect(Object.fromEntries(accounts.map((account) => [label(account), byAccount.get(account)?.length]))).toEqual(
        Object.fromEntries(accounts.map((account) => [label(account), logged.get(label(account))])),
      );
    }),
  );
});
