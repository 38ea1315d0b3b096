// The local demo, the README's quick start: `npm install && npm run demo`.
//
// Starts a real kube-apiserver + etcd and moto (Route53) on loopback (built once by scripts/peers/build.sh, cached),
// creates namespace `monitoring` with a Thanos Query Deployment and a private zone `internal.example.com` with sample
// records, and runs the built controller (dist/main.js) against them with its log shown live. Then it adds a `-grpc`
// record, later deletes one, and after each change shows what the controller published. It keeps running until
// Ctrl-C (SIGINT) or SIGTERM, then stops the controller, then the peers, removes its temp dirs and exits 0 (1 when
// something went wrong).
//
// Environment:
//   DEMO_EXIT_AFTER_SECONDS=N  stop by itself N seconds after the scripted steps (unattended runs, tests)
//   LOG_LEVEL=debug            the controller's log level (default info)
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { describeError } from '../src/logger.ts';
import { resolvePeerBinaries } from '../test/peers/binaries.ts';
import { startControlPlane, type ControlPlane } from '../test/peers/control-plane.ts';
import { startMoto, type Moto } from '../test/peers/moto.ts';
import { removeTempDir, startPeerProcess, trackTempDir, waitUntilReady, type PeerProcess } from '../test/peers/peer-process.ts';
import { freePort } from '../test/peers/ports.ts';
import {
  route53Fixture,
  TEST_AWS_CREDENTIALS,
  TEST_AWS_REGION,
  type FixtureRecord,
  type Route53Fixture,
} from '../test/peers/route53-fixture.ts';
import { controllerEnv } from '../test/support/controller-process.ts';
import { createThanosDeployment, expectedFileSd, THANOS_DEPLOYMENT } from '../test/support/thanos.ts';
import { waitFor } from '../test/support/wait.ts';
import { followLines, type LogFollower } from './demo/log-follower.ts';
import { banner, block, controllerLog, failure, say } from './demo/terminal.ts';
import { describeThanosState, readThanosState, settled, type ThanosState } from './demo/thanos-state.ts';
import { startThanosView, thanosViewUnavailable, type ThanosView } from './demo/thanos-view.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONTROLLER_MAIN = join(ROOT, 'dist', 'main.js');
const NAMESPACE = 'monitoring';
const ZONE = 'internal.example.com';
const POLL_SECONDS = 5;
// The controller's own default; another port is taken when something already listens there.
const PREFERRED_PORT = 8080;
const ADD_AFTER_MS = 15_000;
const REMOVE_AFTER_MS = 10_000;
const CONTROLLER_READY_MS = 60_000;
const LOG_CATCH_UP_MS = 300;
const PUBLISH_TIMEOUT_MS = 60_000;
// Longer than the controller's own 9 s shutdown deadline, so its clean exit gets the chance to show.
const CONTROLLER_STOP_MS = 15_000;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const store = (n: number): FixtureRecord => ({ name: `cluster-${n}-grpc.${ZONE}`, type: 'A', value: `10.${n}.0.10` });
const SEEDED: readonly { record: FixtureRecord; note: string }[] = [
  { record: store(1), note: 'a Thanos store' },
  { record: store(2), note: 'a Thanos store' },
  { record: store(3), note: 'a Thanos store' },
  { record: { name: `cluster-1-http.${ZONE}`, type: 'A', value: '10.1.0.20' }, note: 'ignored: first label does not end in -grpc' },
  { record: { name: `grafana.${ZONE}`, type: 'CNAME', value: `cluster-1-http.${ZONE}` }, note: 'ignored: not -grpc' },
  { record: { name: `grpc.${ZONE}`, type: 'A', value: '10.9.0.1' }, note: 'ignored: "grpc" alone is not a -grpc label' },
];
const ADDED = store(4);
const REMOVED = store(2);

interface Running {
  controlPlane?: ControlPlane;
  moto?: Moto;
  route53?: Route53Fixture;
  controller?: PeerProcess;
  follower?: LogFollower;
  thanos?: ThanosView;
  dir?: string;
}
const running: Running = {};
const stopRequested = new AbortController();
let stopping: Promise<void> | undefined;

/** Output of the scripted flow: once a stop began the flow ends here, so its lines never mix with the stop's. */
function narrate(text: string): void {
  stopRequested.signal.throwIfAborted();
  say(text);
}

function chapter(title: string): void {
  stopRequested.signal.throwIfAborted();
  banner(title);
}

function seconds(sinceMs: number): string {
  return `${((Date.now() - sinceMs) / 1000).toFixed(1)} s`;
}

function parseExitAfter(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d+$/.test(value.trim())) {
    failure(`DEMO_EXIT_AFTER_SECONDS="${value}" is not a whole number of seconds`);
    process.exit(2);
  }
  return Number(value);
}

function onPath(command: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function startPeers(): Promise<{ controlPlane: ControlPlane; moto: Moto }> {
  const started = Date.now();
  // Each is recorded as soon as it runs, so a stop while the other is still starting finds it.
  const results = await Promise.allSettled([
    startControlPlane().then((controlPlane) => (running.controlPlane = controlPlane)),
    startMoto().then((moto) => (running.moto = moto)),
  ]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  const { controlPlane, moto } = running as Required<Pick<Running, 'controlPlane' | 'moto'>>;
  narrate(`etcd + kube-apiserver serving at ${controlPlane.server}, moto (Route53) at ${moto.endpoint} (${seconds(started)})`);
  return { controlPlane, moto };
}

async function seedKubernetes(kubeConfig: KubeConfig): Promise<void> {
  await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await createThanosDeployment(kubeConfig, NAMESPACE);
  narrate(`created namespace ${NAMESPACE} and Deployment ${NAMESPACE}/${THANOS_DEPLOYMENT} (it gets no pods: no kubelet runs here)`);
}

function recordColumns(record: FixtureRecord): string[] {
  return [record.name, record.type, 'value' in record ? [record.value].flat().join(',') : record.alias.dnsName];
}

/** Rows of cells as text columns, each as wide as its widest cell. */
function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function seedRoute53(route53: Route53Fixture): Promise<string> {
  const zoneId = await route53.createPrivateZone(ZONE);
  await route53.upsertRecords(
    zoneId,
    SEEDED.map((s) => s.record),
  );
  narrate(`created Route53 private zone ${ZONE} (id ${zoneId}) with these records:`);
  block(table(SEEDED.map((s) => [...recordColumns(s.record), s.note])));
  return zoneId;
}

/** Runs dist/main.js as production would (its own process, env only), its log streamed here; returns its port. */
async function startDemoController(kubeconfigPath: string, zoneId: string, motoEndpoint: string): Promise<number> {
  const port = (await portIsFree(PREFERRED_PORT)) ? PREFERRED_PORT : await freePort();
  running.dir = await mkdtemp(join(tmpdir(), 'tsd-demo-'));
  trackTempDir(running.dir);
  const logPath = join(running.dir, 'controller.log');
  const env = controllerEnv({
    kubeconfigPath,
    namespace: NAMESPACE,
    zones: [zoneId],
    route53Endpoint: motoEndpoint,
    extra: {
      POLL_INTERVAL_SECONDS: String(POLL_SECONDS),
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info',
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
    },
  });
  narrate(
    `node dist/main.js with PRIVATE_HOSTED_ZONE_ID=${zoneId} THANOS_NAMESPACE=${NAMESPACE} ` +
      `POLL_INTERVAL_SECONDS=${POLL_SECONDS} LISTEN_ADDRESS=127.0.0.1:${port}; its log (JSON lines, shown as time level message fields):`,
  );
  const proc = startPeerProcess({ peer: 'controller', command: process.execPath, args: [CONTROLLER_MAIN], logPath, env });
  running.controller = proc;
  running.follower = await followLines(logPath, controllerLog);
  void proc.exited.then((code) => {
    if (stopping !== undefined) return;
    failure(`the controller exited on its own with code ${code}`);
    void shutdown('the controller exited', 1);
  });
  await waitUntilReady(
    proc,
    'ready (/readyz answering 200)',
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
    CONTROLLER_READY_MS,
  );
  return port;
}

/** Waits until the controller published exactly `hosts` and rolled the Deployment for them, then shows both. */
async function showPublished(kubeConfig: KubeConfig, hosts: readonly string[], what: string): Promise<void> {
  const want = expectedFileSd(hosts);
  let state: ThanosState | undefined;
  await waitFor(
    async () => {
      stopRequested.signal.throwIfAborted();
      state = await readThanosState(kubeConfig, NAMESPACE);
      return state.fileSd === want && settled(state);
    },
    `the controller to publish ${what}`,
    PUBLISH_TIMEOUT_MS,
    () => `last read:\n${state === undefined ? '(nothing)' : describeThanosState(state, NAMESPACE)}`,
  );
  // The controller logs right after its writes return: a moment's pause lets those lines print before the read-back.
  await sleep(LOG_CATCH_UP_MS, undefined, { signal: stopRequested.signal });
  await running.follower?.flush();
  narrate(`read back with client-node:`);
  block(describeThanosState(state!, NAMESPACE));
}

/** Starts the real Thanos Query view once the ConfigMap exists; the demo goes on without it where it cannot run. */
async function startThanos(kubeConfig: KubeConfig): Promise<void> {
  const unavailable = thanosViewUnavailable();
  if (unavailable !== undefined) {
    narrate(`no real Thanos Query in this run: ${unavailable}`);
    return;
  }
  const hosts = [...SEEDED.slice(0, 3).map((s) => s.record.name), ADDED.name];
  narrate(
    `starting ${hosts.length} real \`thanos store\` servers (one per cluster name, on loopback) and Thanos Query reading the ConfigMap through a kubelet-style volume; each rollout starts a new Thanos pod`,
  );
  running.thanos = await startThanosView({ kubeConfig, namespace: NAMESPACE, hosts });
}

/** What the real Thanos Query lists once it caught up with the published `hosts`. */
async function showThanos(hosts: readonly string[]): Promise<void> {
  if (running.thanos === undefined) return;
  const started = Date.now();
  const listed = await running.thanos.waitForStores(hosts, PUBLISH_TIMEOUT_MS);
  narrate(`Thanos Query (GET /api/v1/stores) lists ${listed.length} stores, all healthy (${seconds(started)} after the ConfigMap):`);
  block(listed.join('\n'));
}

function printHints(port: number, kubeconfigPath: string, motoEndpoint: string, zoneId: string): void {
  const base = `http://127.0.0.1:${port}`;
  const missing = (command: string): string => (onPath(command) ? '' : `   (${command} is not installed here)`);
  const upsertBatch = {
    Changes: [
      {
        Action: 'UPSERT',
        ResourceRecordSet: { Name: `cluster-5-grpc.${ZONE}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '10.5.0.10' }] },
      },
    ],
  };
  chapter('Poke it while it runs');
  block(
    [
      `metrics and probes:  ${base}/metrics   ${base}/healthz   ${base}/readyz`,
      `  curl -s ${base}/readyz; curl -s ${base}/metrics | grep ^thanos_store_discovery`,
      `Kubernetes:`,
      `  KUBECONFIG=${kubeconfigPath} kubectl get cm -n ${NAMESPACE} -o yaml${missing('kubectl')}`,
      `Route53 (moto):`,
      `  export AWS_ENDPOINT_URL=${motoEndpoint} AWS_REGION=${TEST_AWS_REGION} AWS_DEFAULT_REGION=${TEST_AWS_REGION} ` +
        `AWS_ACCESS_KEY_ID=${TEST_AWS_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${TEST_AWS_CREDENTIALS.secretAccessKey}`,
      `  aws route53 list-resource-record-sets --hosted-zone-id ${zoneId}${missing('aws')}`,
      `  aws route53 change-resource-record-sets --hosted-zone-id ${zoneId} --change-batch '${JSON.stringify(upsertBatch)}'`,
    ].join('\n'),
    2,
  );
}

async function main(exitAfterSeconds: number | undefined): Promise<void> {
  banner('thanos-store-discovery demo');
  block(
    [
      'The controller keeps a Thanos Query store list (a file_sd ConfigMap) equal to the -grpc records of Route53',
      'private zones, and rolls the Thanos Query pods when that list changes. Everything here runs on loopback: a',
      'real kube-apiserver + etcd, moto standing in for Route53, and the controller built into dist/main.js.',
      'Ctrl-C stops it all and cleans up.',
    ].join('\n'),
    0,
  );

  if (!existsSync(CONTROLLER_MAIN)) {
    throw new Error(`${CONTROLLER_MAIN} is missing: run \`npm run build\` first (\`npm run demo\` does)`);
  }

  chapter('Starting the peers');
  narrate(
    'making sure etcd, kube-apiserver and moto are built (cached in ~/.cache/thanos-store-discovery; the first run builds them from source: several minutes)',
  );
  await resolvePeerBinaries(['etcd', 'kube-apiserver', 'moto'], { onLog: (line) => block(line, 2) });
  const { controlPlane, moto } = await startPeers();
  const kubeConfig = controlPlane.kubeConfig();
  await seedKubernetes(kubeConfig);
  running.route53 = route53Fixture(moto.endpoint);
  const zoneId = await seedRoute53(running.route53);
  const route53 = running.route53;

  chapter('Step 1 of 3: start the controller');
  const port = await startDemoController(controlPlane.kubeconfigPath, zoneId, moto.endpoint);
  takeOverSignals();
  const stores = SEEDED.slice(0, 3).map((s) => s.record.name);
  await showPublished(kubeConfig, stores, 'the three seeded stores');
  await startThanos(kubeConfig);
  await showThanos(stores);

  printHints(port, controlPlane.kubeconfigPath, moto.endpoint, zoneId);
  narrate(`in ${ADD_AFTER_MS / 1000} s the demo adds ${ADDED.name} to Route53`);
  await sleep(ADD_AFTER_MS, undefined, { signal: stopRequested.signal });

  chapter('Step 2 of 3: a new cluster appears in Route53');
  await route53.upsertRecords(zoneId, [ADDED]);
  narrate(`UPSERT ${recordColumns(ADDED).join(' ')}; the controller sees it at its next poll (every ${POLL_SECONDS} s)`);
  const afterAdd = [...stores, ADDED.name];
  await showPublished(kubeConfig, afterAdd, `the added ${ADDED.name}`);
  await showThanos(afterAdd);

  narrate(`in ${REMOVE_AFTER_MS / 1000} s the demo deletes ${REMOVED.name}`);
  await sleep(REMOVE_AFTER_MS, undefined, { signal: stopRequested.signal });
  chapter('Step 3 of 3: a cluster goes away');
  await route53.deleteRecords(zoneId, [REMOVED]);
  narrate(`DELETE ${recordColumns(REMOVED).join(' ')}`);
  const afterRemove = afterAdd.filter((name) => name !== REMOVED.name);
  await showPublished(kubeConfig, afterRemove, `the list without ${REMOVED.name}`);
  await showThanos(afterRemove);

  chapter('Scripted steps done');
  narrate(`the controller keeps polling every ${POLL_SECONDS} s: change records with the aws commands above and watch its log`);
  if (exitAfterSeconds === undefined) {
    narrate('press Ctrl-C to stop the controller and the peers and clean up');
  } else {
    narrate(`DEMO_EXIT_AFTER_SECONDS=${exitAfterSeconds}: stopping by itself in ${exitAfterSeconds} s`);
    await sleep(exitAfterSeconds * 1000, undefined, { signal: stopRequested.signal });
    void shutdown(`DEMO_EXIT_AFTER_SECONDS=${exitAfterSeconds}`, 0);
  }
}

/** SIGTERM, and the controller's exit code once it is gone (null when it had to be killed). */
async function stopController(proc: PeerProcess): Promise<number | null> {
  if (!proc.hasExited()) {
    say('stopping the controller (SIGTERM): it finishes the pass in flight and exits');
    proc.kill('SIGTERM');
    const code = await Promise.race([proc.exited, sleep(CONTROLLER_STOP_MS).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      failure(`the controller did not exit within ${CONTROLLER_STOP_MS / 1000} s; killing it`);
      await proc.stop();
    }
  }
  return proc.exited;
}

/** The controller first, so its clean exit shows while the API server is still there, then the peers. */
async function stopAll(reason: string): Promise<boolean> {
  stopRequested.abort();
  banner(`Stopping (${reason})`);
  let clean = true;
  const { controller, follower, controlPlane, moto, route53, dir } = running;
  if (controller !== undefined) {
    const code = await stopController(controller);
    await follower?.stop();
    if (code === 0) say('the controller exited with code 0 (a clean shutdown)');
    else {
      failure(`the controller exited with code ${code}`);
      clean = false;
    }
  }
  await running.thanos?.stop();
  route53?.destroy();
  const dirs = [controlPlane?.dir, moto && dirname(moto.logPath), dir].filter((d): d is string => d !== undefined);
  const peers = [...(controlPlane ? ['kube-apiserver', 'etcd'] : []), ...(moto ? ['moto'] : [])];
  if (peers.length > 0) say(`stopping ${peers.join(', ').replace(/, ([^,]*)$/, ' and $1')}`);
  await Promise.all([controlPlane?.stop(), moto?.stop()]);
  if (dir !== undefined) removeTempDir(dir);
  if (dirs.length > 0) say(`removed ${dirs.join(', ')}`);
  return clean;
}

function shutdown(reason: string, code: number): Promise<void> {
  stopping ??= stopAll(reason).then(
    (clean) => {
      const exitCode = clean ? code : 1;
      say(exitCode === 0 ? 'done' : 'done, with errors (see above)');
      process.exit(exitCode);
    },
    (error: unknown) => {
      failure(`stopping failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
  return stopping;
}

function onSignal(signal: NodeJS.Signals): void {
  // A Ctrl-C reaches npm and the demo alike, and npm passes it on again: one stop is enough.
  if (stopping === undefined) void shutdown(signal === 'SIGINT' ? 'Ctrl-C' : signal, 0);
}

/**
 * test/peers hooks the same signals to SIGKILL every peer at once, right for an aborted test run. Once everything
 * runs the demo stops them in order itself (controller first); the harness's exit hook and reapers still cover a crash.
 */
function takeOverSignals(): void {
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (listener !== onSignal) process.removeListener(signal, listener as (...args: unknown[]) => void);
    }
  }
}

for (const signal of SIGNALS) process.on(signal, onSignal);
main(parseExitAfter(process.env['DEMO_EXIT_AFTER_SECONDS'])).catch((error: unknown) => {
  if (stopping !== undefined) return;
  failure(`the demo failed: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof Error && error.cause !== undefined) failure(`caused by: ${describeError(error.cause)}`);
  void shutdown('after a failure', 1);
});
