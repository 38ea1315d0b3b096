// The controller as PID 1, as `ENTRYPOINT ["node"]` runs it in a container: the kernel drops a signal PID 1 has no
// handler for, so these tests run it in a PID namespace of its own (`unshare --pid --fork`) and signal it there.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPeerProcess, waitUntilReady, type PeerProcess } from '../peers/peer-process.ts';
import { freePort } from '../peers/ports.ts';
import { controllerEnv, MAIN, NODE } from '../support/controller-process.ts';
import { aRecords, scenarioSuite } from '../support/scenario.ts';
import { readConfigMap, readDeployment } from '../support/thanos.ts';
import { waitFor } from '../support/wait.ts';

// Long enough that a run which ignored the signal would still be waiting on this answer when it is sent; shorter than
// the reader's 20 s request timeout, so such a run would then go on and write.
const HELD_MS = 15_000;

describe('signals to the controller as PID 1', () => {
  const suite = scenarioSuite('pid1-signals');
  let dir: string;
  let running: PeerProcess | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsd-pid1-'));
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** `node src/main.ts` as PID 1 of a new PID namespace; `unshare` passes its exit code on and kills it if it dies. */
  function startAsPid1(env: Record<string, string>): PeerProcess {
    running = startPeerProcess({
      peer: 'controller (PID 1)',
      command: 'unshare',
      args: ['--pid', '--fork', '--kill-child', NODE, MAIN],
      logPath: join(dir, 'controller.log'),
      env,
    });
    return running;
  }

  /** The host's pid of the namespace's PID 1: the only child of `unshare`. */
  async function pid1Of(proc: PeerProcess): Promise<number> {
    let pid = 0;
    const children = `/proc/${proc.pid}/task/${proc.pid}/children`;
    await waitFor(async () => (pid = Number((await readFile(children, 'utf8')).trim())) > 0, 'the forked controller', 10_000);
    return pid;
  }

  /** The controller's environment for this test's namespace and zone, Route53 through the fault proxy. */
  function envFor(namespace: string, zone: string, extra: Record<string, string>): Record<string, string> {
    const { controlPlane, proxy } = suite.peers;
    return controllerEnv({ kubeconfigPath: controlPlane.kubeconfigPath, namespace, zones: [zone], route53Endpoint: proxy.url, extra });
  }

  it('long-running: SIGTERM once ready stops in order and exits 0', async () => {
    const { namespace, zone } = await suite.prepare({
      prefix: 'pid1-loop',
      records: aRecords(['cluster-a-grpc.pid1.internal.example.com']),
    });
    const port = await freePort();
    const proc = startAsPid1(envFor(namespace, zone, { LISTEN_ADDRESS: `127.0.0.1:${port}` }));
    const pid = await pid1Of(proc);
    await waitUntilReady(proc, 'ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000);

    process.kill(pid, 'SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.logTail(100)).toMatch(/"message":"stopped"/);
  });

  it('RUN_ONCE: SIGTERM while a Route53 request has not answered exits 0 at once and writes nothing', async () => {
    const hosts = ['cluster-a-grpc.pid1.internal.example.com'];
    const { kubeConfig, namespace, zone, deployment } = await suite.prepare({ prefix: 'pid1-once', records: aRecords(hosts) });
    const { proxy } = suite.peers;
    proxy.inject('slow', { delayMs: HELD_MS, times: 1 });
    const proc = startAsPid1(envFor(namespace, zone, { RUN_ONCE: 'true' }));
    const pid = await pid1Of(proc);
    await waitFor(
      () => proxy.faultedBy('slow') === 1,
      'the Route53 request to be held',
      30_000,
      () => proc.logTail(),
    );
    const forwarded = proxy.forwarded;

    process.kill(pid, 'SIGTERM');
    expect(await proc.exited).toBe(0);
    // It was gone before the held request was answered, and wrote nothing: no ConfigMap, the Deployment as created.
    expect(proxy.forwarded).toBe(forwarded);
    expect(await readConfigMap(kubeConfig, namespace)).toBeUndefined();
    expect((await readDeployment(kubeConfig, namespace))?.metadata?.resourceVersion).toBe(deployment?.metadata?.resourceVersion);
    expect(proc.logTail(100)).toMatch(/"message":"stopping on a signal: nothing more is written".*"signal":"SIGTERM"/);
  });
});
