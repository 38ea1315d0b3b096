// TLS and per-endpoint settings against real Thanos: `thanos store` servers serve gRPC over TLS and demand a client
// certificate (mTLS), with certificates made here. Thanos Query reads the endpoint config the controller renders
// (CA, client pair, server_name per host, strict, snappy) and connects. Failures as the delivery check reports them:
// a store whose certificate names another host is never connected (Thanos leaves an endpoint it never reached out of
// /api/v1/stores, strict or not: unseen); a connected store that comes back with a certificate from a CA Thanos does
// not trust stays listed, unhealthy, with the TLS error; a wrong CA published makes a new Thanos pod reach none.
import { mkdtemp, rm } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createStoreTlsCertificates, type StoreTlsCerts } from '../peers/certs.ts';
import { HostsFile } from '../peers/hosts-namespace.ts';
import { freePort } from '../peers/ports.ts';
import { startThanosStore, type ThanosStore } from '../peers/thanos.ts';
import { createRunningPod, deliveryStates, startQueryPod, type QueryPod } from '../support/query-pod.ts';
import { aRecords, logTail, scenarioSuite } from '../support/scenario.ts';
import { readConfigMap, SD_KEY } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';

const STORE_PORT = 10901;
const REFRESH_SECONDS = 2;
const HOSTS = [
  'cluster-a-grpc.internal.example.com',
  'cluster-b-grpc.internal.example.com',
  'cluster-c-grpc.internal.example.com',
] as const;
const [A, B] = HOSTS;

describe('endpoint config with TLS against real Thanos', () => {
  const suite = scenarioSuite('thanos-tls', { webhookReceiver: true });
  let dir: string;
  let hosts: HostsFile;
  let net: string;
  let certs: StoreTlsCerts;
  let stores: ThanosStore[] = [];
  const pods: QueryPod[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsd-thanos-tls-'));
    hosts = new HostsFile(join(dir, 'hosts'));
    net = `127.${randomInt(16, 250)}.${randomInt(1, 250)}`;
    // C's certificate is for another name: what a wrong server name (or a misrouted SNI) looks like to the client.
    certs = await createStoreTlsCertificates(dir, { a: A, b: B, c: 'another-cluster-grpc.internal.example.com' });
    for (const [i, host] of HOSTS.entries()) await hosts.set(host, `${net}.${i + 1}`);
    stores = await Promise.all(
      (['a', 'b', 'c'] as const).map((name, i) =>
        startThanosStore({ ip: `${net}.${i + 1}`, grpcPort: STORE_PORT, tls: { ...certs.servers[name]!, clientCa: certs.caCert } }),
      ),
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(pods.map((pod) => pod.stop()));
    await Promise.all(stores.map((store) => store.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'connects over mTLS with the rendered config; a wrong server name, an untrusted store certificate and a wrong CA are reported',
    suite.logged(async () => {
      const { kubeConfig, namespace, zone } = await suite.prepare({ prefix: 'thanos-tls', records: aRecords([...HOSTS]) });
      const httpPort = await freePort();
      const ip = `${net}.11`;
      const settings = (caFile: string) => ({
        OUTPUT_FORMAT: 'endpoint-config',
        RESTART_MODE: 'none',
        THANOS_TLS_CA_FILE: caFile,
        THANOS_TLS_CERT_FILE: certs.clientCert,
        THANOS_TLS_KEY_FILE: certs.clientKey,
        THANOS_TLS_MIN_VERSION: '1.3',
        THANOS_TLS_SERVER_NAME_FROM_HOST: 'true',
        THANOS_STRICT_ENDPOINTS: 'cluster-.*',
        THANOS_GRPC_COMPRESSION: 'snappy',
        THANOS_QUERY_URL: `http://${ip}:${httpPort}`,
        DELIVERY_CHECK_INTERVAL_SECONDS: '1',
        DELIVERY_ALERT_AFTER_SECONDS: '3',
      });
      let controller = await suite.startController(namespace, [zone], settings(certs.caCert), { hookUrl: suite.receiver.url });
      let lastStates = '';
      const states = async () => (lastStates = await deliveryStates(controller));
      const published = async () => parse((await readConfigMap(kubeConfig, namespace))?.data?.[SD_KEY] ?? '') as Record<string, unknown>;
      await waitFor(async () => (await readConfigMap(kubeConfig, namespace)) !== undefined, 'the ConfigMap', 30_000, logTail(controller));
      expect(await published()).toEqual({
        default_client_config: {
          tls_config: { ca_file: certs.caCert, cert_file: certs.clientCert, key_file: certs.clientKey, min_version: '1.3' },
        },
        endpoints: HOSTS.map((host) => ({
          address: `${host}.:${STORE_PORT}`,
          strict: true,
          client_config: { server_name: host, compression: 'snappy' },
        })),
      });

      const common = { kubeConfig, namespace, hosts, dir, ip, port: httpPort, refreshSeconds: REFRESH_SECONDS };
      let pod = await startQueryPod({ ...common, name: 'pod-1' });
      pods.push(pod);
      await createRunningPod(kubeConfig, namespace, 'thanos-query-1', ip);
      const context = () =>
        `states: ${lastStates}\n${logTail(controller, 200)()
          .split('\n')
          .filter((line) => !line.includes('Route53') && !line.includes('suppressed'))
          .join('\n')}\nthanos query log:\n${pod.query.process.logTail(5)}`;
      await waitFor(
        async () => (await states()) === JSON.stringify({ healthy: 2, unhealthy: 0, unseen: 1, awaiting_rollout: 0, unpublished: 0 }),
        'a and b healthy over mTLS, c unseen',
        60_000,
        context,
      );
      const alerted = (text: RegExp) => suite.receiver.bodies.some((body) => text.test(JSON.stringify(body)));
      await waitFor(
        () => alerted(/cluster-c-grpc\.internal\.example\.com:10901 not known to Thanos Query \(pod\/thanos-query-1\)/),
        'the alert for c',
        20_000,
        context,
      );
      // Thanos sent the host as the server name and checked the certificate against it.
      expect(pod.query.process.logTail(1000)).toContain(
        'x509: certificate is valid for another-cluster-grpc.internal.example.com, not cluster-c-grpc.internal.example.com',
      );

      // B comes back with a certificate from a CA Thanos does not trust.
      await stores[1]!.stop();
      stores[1] = await startThanosStore({
        ip: `${net}.2`,
        grpcPort: STORE_PORT,
        tls: { ...certs.untrustedServers['b']!, clientCa: certs.caCert },
      });
      await waitFor(
        async () => (await states()) === JSON.stringify({ healthy: 1, unhealthy: 1, unseen: 1, awaiting_rollout: 0, unpublished: 0 }),
        'b unhealthy',
        60_000,
        context,
      );
      expect((await pod.query.stores()).find((store) => store.name === `${B}.:${STORE_PORT}`)?.lastError).toMatch(
        /certificate signed by unknown authority/,
      );
      await waitFor(
        () =>
          alerted(/cluster-b-grpc\.internal\.example\.com:10901 unhealthy in Thanos Query \(pod\/thanos-query-1: [^)]*unknown authority/),
        'the alert for b with the TLS error',
        20_000,
        context,
      );

      // The wrong CA: the controller publishes it, and a new Thanos pod (as a rollout starts) trusts no store.
      await controller.stop();
      controller = await suite.startController(namespace, [zone], settings(certs.otherCaCert), { hookUrl: suite.receiver.url });
      await waitFor(
        async () => JSON.stringify(await published()).includes(certs.otherCaCert),
        'the ConfigMap to name the other CA',
        30_000,
        context,
      );
      await pod.stop();
      pod = await startQueryPod({ ...common, name: 'pod-1-rolled' });
      pods.push(pod);
      await waitFor(
        async () => (await states()) === JSON.stringify({ healthy: 0, unhealthy: 0, unseen: 3, awaiting_rollout: 0, unpublished: 0 }),
        'no store reached with the wrong CA',
        60_000,
        context,
      );
      await waitFor(
        async () => pod.query.process.logTail(1000).includes(`certificate signed by unknown authority`),
        'Thanos to log the untrusted CA',
        20_000,
        context,
      );
      await waitFor(
        () => alerted(/cluster-a-grpc\.internal\.example\.com:10901 not known to Thanos Query/),
        'the alert for a',
        20_000,
        context,
      );
    }),
    240_000,
  );
});
