// Shared by the scenario files of this folder: the peers a file starts once, a controller per test, and the questions
// every scenario asks (how many polls so far, what hash a set must give, whether a change showed within its deadline).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { hashEndpoints, toEndpoints } from '../../src/format/endpoints-file.ts';
import { startControlPlane, type ControlPlane } from '../peers/control-plane.ts';
import { startFaultProxy, type FaultProxy } from '../peers/fault-proxy.ts';
import { startMoto, type Moto } from '../peers/moto.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../peers/webhook-receiver.ts';
import { route53Fixture, type FixtureRecord, type Route53Fixture } from '../peers/route53-fixture.ts';
import { controllerEnv, startController, type ControllerProcess } from './controller-process.ts';
import { createThanosDeployment } from './thanos.ts';
import { waitFor } from './wait.ts';

const STORE_PORT = 10901;
const METRIC = 'thanos_store_discovery_';
export const METRICS = {
  polls: `${METRIC}route53_poll_duration_seconds_count`,
  route53Requests: `${METRIC}route53_requests_total`,
  configMapWrites: `${METRIC}configmap_writes_total`,
  restarts: `${METRIC}restarts_triggered_total`,
  reconciles: `${METRIC}reconcile_total`,
  endpoints: `${METRIC}endpoints`,
} as const;

type ExtraEnv = Record<string, string | undefined>;

export interface Peers {
  readonly controlPlane: ControlPlane;
  readonly route53: Route53Fixture;
  /** In front of moto; a controller reads through it when started with `{ route53: 'proxy' }`. */
  readonly proxy: FaultProxy;
  /** moto itself, for fixtures in other accounts (assumeRoleCredentials). */
  readonly motoEndpoint: string;
}

/** How a controller is wired: Route53 straight to moto or through the fault proxy, and where it alerts. */
export interface Wiring {
  route53?: 'direct' | 'proxy';
  hookUrl?: string;
}

interface RunningPeers extends Peers {
  /** A controller for `namespace` and `zones`, logging to this file's temp dir; `extra` adds or overrides variables. */
  startController(namespace: string, zones: readonly string[], extra?: ExtraEnv, wiring?: Wiring): Promise<ControllerProcess>;
  stop(): Promise<void>;
}

export interface PrepareOptions {
  /** Names the namespace. */
  prefix: string;
  /** The zone's name; the default is `internal.example.com`. */
  domain?: string;
  records: readonly FixtureRecord[];
  deployment?: boolean;
}

export interface Prepared {
  kubeConfig: KubeConfig;
  namespace: string;
  zone: string;
  /** As created, when it was. */
  deployment: V1Deployment | undefined;
}

/** What the tests of a scenario file use: the file's peers and each test's own controller. */
export interface ScenarioSuite {
  /** The file's peers, started in beforeAll: read this inside tests. */
  readonly peers: Peers;
  /** A fresh namespace (with the Thanos Deployment unless `deployment: false`) and a fresh zone holding `records`. */
  prepare(options: PrepareOptions): Promise<Prepared>;
  /** Starts a controller for this test (a test may start several); all are stopped after the test. */
  startController(namespace: string, zones: readonly string[], extra?: ExtraEnv, wiring?: Wiring): Promise<ControllerProcess>;
  /** This test's Mattermost webhook receiver (only with `{ webhookReceiver: true }`). */
  readonly receiver: WebhookReceiver;
  /** Wraps a test body so that any failure, a plain `expect` included, carries the log tail of this test's controller. */
  logged<A extends unknown[]>(body: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
}

/** Call inside a scenario file's `describe`: registers its hooks (peers once for the file, a controller per test). */
export function scenarioSuite(name: string, options: { webhookReceiver?: boolean } = {}): ScenarioSuite {
  let peers: RunningPeers | undefined;
  let receiver: WebhookReceiver | undefined;
  let controllers: ControllerProcess[] = [];
  const started = (): RunningPeers => {
    if (peers === undefined) throw new Error('the peers start in beforeAll: use them inside a test');
    return peers;
  };
  beforeAll(async () => {
    peers = await startPeers(name);
  });
  beforeEach(async () => {
    if (options.webhookReceiver) receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    await Promise.all(controllers.map((running) => running.stop()));
    controllers = [];
    peers?.proxy.clear();
    await receiver?.stop();
    receiver = undefined;
  });
  afterAll(async () => {
    await peers?.stop();
  });
  return {
    get peers() {
      return started();
    },
    get receiver() {
      if (receiver === undefined) throw new Error('no webhook receiver: pass { webhookReceiver: true } and use it inside a test');
      return receiver;
    },
    async prepare({ prefix, domain = 'internal.example.com', records, deployment = true }) {
      const { controlPlane, route53 } = started();
      const kubeConfig = controlPlane.kubeConfig();
      const namespace = await controlPlane.createNamespace(prefix);
      const created = deployment ? await createThanosDeployment(kubeConfig, namespace) : undefined;
      const zone = await route53.createPrivateZone(domain);
      await route53.upsertRecords(zone, records);
      return { kubeConfig, namespace, zone, deployment: created };
    },
    async startController(namespace, zones, extra, wiring) {
      const running = await started().startController(namespace, zones, extra, wiring);
      controllers.push(running);
      return running;
    },
    logged: (body) => withControllerLog(() => controllers.at(-1), body),
  };
}

/** kube-apiserver + etcd and moto, started side by side; if one fails, the other is stopped before the error. */
async function startPeers(name: string): Promise<RunningPeers> {
  const [plane, emulator] = await Promise.allSettled([startControlPlane(), startMoto()]);
  if (plane.status === 'rejected' || emulator.status === 'rejected') {
    await Promise.all([plane, emulator].map((peer) => (peer.status === 'fulfilled' ? peer.value.stop() : Promise.resolve())));
    throw plane.status === 'rejected' ? plane.reason : (emulator as PromiseRejectedResult).reason;
  }
  const controlPlane: ControlPlane = plane.value;
  const moto: Moto = emulator.value;
  const route53 = route53Fixture(moto.endpoint);
  const proxy = await startFaultProxy(moto.endpoint);
  const dir = await mkdtemp(join(tmpdir(), `tsd-${name}-`));
  let controllers = 0;
  return {
    controlPlane,
    route53,
    proxy,
    motoEndpoint: moto.endpoint,
    startController: (namespace, zones, extra, wiring = {}) =>
      startController(
        controllerEnv({
          kubeconfigPath: controlPlane.kubeconfigPath,
          namespace,
          zones,
          route53Endpoint: wiring.route53 === 'proxy' ? proxy.url : moto.endpoint,
          ...(wiring.hookUrl === undefined ? {} : { hookUrl: wiring.hookUrl }),
          extra,
        }),
        dir,
        `controller-${++controllers}`,
      ),
    async stop() {
      route53.destroy();
      await proxy.stop();
      await Promise.all([controlPlane.stop(), moto.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One A record per host, each with its own address (10.0.0.0 upwards, in order). */
export function aRecords(hosts: readonly string[]): FixtureRecord[] {
  return hosts.map((name, i) => ({ name, type: 'A', value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }));
}

/** The pod-template annotation the controller must write for `hosts`. */
export function expectedHash(hosts: readonly string[]): string {
  return hashEndpoints(toEndpoints(hosts, STORE_PORT));
}

const LOG_TAIL_HEADING = 'controller log, last lines:';

/** The last lines of the controller's log, for failure messages. */
export function logTail(controller: ControllerProcess, lines = 40): () => string {
  return () => `${LOG_TAIL_HEADING}\n${controller.output().trimEnd().split('\n').slice(-lines).join('\n')}`;
}

/** Wraps a test body so that any failure, a plain `expect` included, carries the log tail of `controller()`. */
function withControllerLog<A extends unknown[]>(
  controller: () => ControllerProcess | undefined,
  body: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await body(...args);
    } catch (error) {
      const running = controller();
      // Not `instanceof Error`: errors from Node itself (fetch's TypeError) come from outside jest's sandbox realm.
      const failure = error as { message?: unknown };
      if (running && typeof failure?.message === 'string' && !failure.message.includes(LOG_TAIL_HEADING)) {
        failure.message += `\n${logTail(running)()}`;
      }
      throw error;
    }
  };
}

export function successfulPolls(controller: ControllerProcess): Promise<number> {
  return controller.metric(METRICS.polls, { outcome: 'success' });
}

/** Waits until `count` more Route53 polls than now have succeeded. */
export async function waitForPolls(controller: ControllerProcess, count: number, timeoutMs = 30_000): Promise<void> {
  const target = (await successfulPolls(controller)) + count;
  const reached = async () => (await successfulPolls(controller)) >= target;
  await waitFor(reached, `${count} more successful polls`, timeoutMs, logTail(controller));
}

/** Waits until no reconcile pass has finished for `quietMs`, so the next change meets an idle controller. */
export async function waitUntilQuiet(controller: ControllerProcess, quietMs = 500): Promise<void> {
  const passes = () => controller.metric(METRICS.reconciles, { outcome: 'success' });
  let last = await passes();
  let since = Date.now();
  await waitFor(
    async () => {
      const now = await passes();
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since >= quietMs;
    },
    `no reconcile pass for ${quietMs} ms`,
    15_000,
    logTail(controller),
  );
}

/**
 * Fails unless `condition` holds within `deadlineMs` of `startedAt`. It waits well past the deadline before giving
 * up, so the failure tells a late convergence (with the time it took) from none at all.
 */
export async function expectWithin(
  startedAt: number,
  deadlineMs: number,
  condition: () => Promise<boolean>,
  what: string,
  controller: ControllerProcess,
): Promise<void> {
  await waitFor(condition, what, deadlineMs + 15_000, logTail(controller));
  const ms = Date.now() - startedAt;
  if (ms > deadlineMs) throw new Error(`${what} took ${ms} ms, over the ${deadlineMs} ms deadline\n${logTail(controller)()}`);
}

/** Events in `namespace`: the restarter records one per restart, so a quiet controller adds none. */
export async function eventCount(kubeConfig: KubeConfig, namespace: string): Promise<number> {
  return (await kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace })).items.length;
}
