import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { resolvePeerBinaries } from './binaries.ts';
import { createCertificates, type ControlPlaneCerts } from './certs.ts';
import { PeerError } from './peer-error.ts';
import { removeTempDir, startPeerProcess, trackTempDir, waitUntilReady, type PeerProcess, type WrapCommand } from './peer-process.ts';
import { freePorts } from './ports.ts';

const ETCD_READY_TIMEOUT_MS = 30_000;
const APISERVER_READY_TIMEOUT_MS = 90_000;
const PROBE_TIMEOUT_MS = 2_000;

export interface ControlPlaneOptions {
  /** The address etcd serves clients on and the API server binds to and advertises; 127.0.0.1 when omitted. */
  address?: string;
  /** Rewrites each peer's command line, e.g. to start it in a network namespace of the run's own. */
  wrap?: WrapCommand;
  /**
   * Keeps the ServiceAccount admission plugin, which mounts each pod's projected token: a real node needs it, and
   * then kube-controller-manager must create the namespaces' default ServiceAccounts.
   */
  serviceAccountAdmission?: boolean;
  extraApiServerArgs?: readonly string[];
}

/** etcd + kube-apiserver on loopback, admin access through a client certificate (envtest's setup). */
export interface ControlPlane {
  /** Holds the certs, the kubeconfig, etcd's data and each peer's log (etcd.log, kube-apiserver.log). */
  readonly dir: string;
  readonly kubeconfigPath: string;
  readonly certs: ControlPlaneCerts;
  /** https://127.0.0.1:<port>; stays the same across stopApiServer/startApiServer. */
  readonly server: string;
  /** A freshly loaded KubeConfig for the admin user. */
  kubeConfig(): KubeConfig;
  /** Stops the API server and waits until it is gone; etcd (and so all objects) stays. */
  stopApiServer(): Promise<void>;
  /** Starts the API server again on the same port with the same certificates and waits until it serves. */
  startApiServer(): Promise<void>;
  /** Creates a namespace named `<prefix>-<random>` and returns its name. */
  createNamespace(prefix: string): Promise<string>;
  /** Kills both peers and removes the temp dir; safe to call more than once. */
  stop(): Promise<void>;
}

interface TlsFiles {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function httpsStatus(url: string, tls: TlsFiles): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy(new Error(`no answer from ${url} within ${PROBE_TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end();
  });
}

async function writeKubeconfig(path: string, server: string, certs: ControlPlaneCerts): Promise<void> {
  const base64 = async (file: string): Promise<string> => (await readFile(file)).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': await base64(certs.servingCaCert) } }],
    users: [
      {
        name: 'admin',
        user: {
          'client-certificate-data': await base64(certs.adminCert),
          'client-key-data': await base64(certs.adminKey),
        },
      },
    ],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
    'current-context': 'test',
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}

function namespaceName(prefix: string): string {
  const base =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 50) || 'test';
  return `${base}-${randomBytes(4).toString('hex')}`;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const address = options.address ?? '127.0.0.1';
  const wrap = options.wrap ?? ((command: string, args: readonly string[]) => ({ command, args: [...args] }));
  const binaries = await resolvePeerBinaries(['etcd', 'kube-apiserver']);
  const dir = await mkdtemp(join(tmpdir(), 'tsd-control-plane-'));
  trackTempDir(dir);
  let etcd: PeerProcess | undefined;
  let apiserver: PeerProcess | undefined;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await apiserver?.stop();
    await etcd?.stop();
    removeTempDir(dir);
  };

  try {
    const certs = await createCertificates(dir, address);
    const tls: TlsFiles = {
      ca: await readFile(certs.servingCaCert),
      cert: await readFile(certs.adminCert),
      key: await readFile(certs.adminKey),
    };
    const [etcdClientPort, etcdPeerPort, apiPort] = (await freePorts(3)) as [number, number, number];
    const etcdUrl = `http://${address}:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const server = `https://${address}:${apiPort}`;
    const kubeconfigPath = join(dir, 'kubeconfig.yaml');
    await writeKubeconfig(kubeconfigPath, server, certs);

    etcd = startPeerProcess({
      peer: 'etcd',
      ...wrap(binaries.etcd, [
        `--data-dir=${join(dir, 'etcd-data')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=tsd-test=${etcdPeerUrl}`,
        '--name=tsd-test',
        '--unsafe-no-fsync=true',
      ]),
      logPath: join(dir, 'etcd.log'),
    });
    const etcdProcess = etcd;
    await waitUntilReady(
      etcdProcess,
      `serving ${etcdUrl}/health`,
      async () => (await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })).ok,
      ETCD_READY_TIMEOUT_MS,
    );

    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${certs.servingCert}`,
      `--tls-private-key-file=${certs.servingKey}`,
      `--client-ca-file=${certs.clientCaCert}`,
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${certs.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${certs.serviceAccountPrivateKey}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      ...(options.serviceAccountAdmission === true ? [] : ['--disable-admission-plugins=ServiceAccount']),
      '--endpoint-reconciler-type=none',
      ...(options.extraApiServerArgs ?? []),
    ];
    const startApiServer = async (): Promise<void> => {
      if (stopped) throw new PeerError('kube-apiserver', 'the control plane was stopped');
      if (apiserver !== undefined && !apiserver.hasExited()) return;
      if (etcdProcess.hasExited()) {
        throw new PeerError('etcd', `exited; last log lines:\n${etcdProcess.logTail()}`);
      }
      const proc = startPeerProcess({
        peer: 'kube-apiserver',
        ...wrap(binaries['kube-apiserver'], apiserverArgs),
        logPath: join(dir, 'kube-apiserver.log'),
      });
      apiserver = proc;
      await waitUntilReady(
        proc,
        `healthy at ${server}/healthz`,
        async () => (await httpsStatus(`${server}/healthz`, tls)) === 200,
        APISERVER_READY_TIMEOUT_MS,
      );
      await waitUntilReady(
        proc,
        'serving namespace default',
        async () => (await httpsStatus(`${server}/api/v1/namespaces/default`, tls)) === 200,
        APISERVER_READY_TIMEOUT_MS,
      );
    };
    await startApiServer();

    const kubeConfig = (): KubeConfig => {
      const config = new KubeConfig();
      config.loadFromFile(kubeconfigPath);
      return config;
    };
    const core = kubeConfig().makeApiClient(CoreV1Api);
    return {
      dir,
      kubeconfigPath,
      certs,
      server,
      kubeConfig,
      startApiServer,
      async stopApiServer() {
        await apiserver?.stop();
      },
      async createNamespace(prefix) {
        const name = namespaceName(prefix);
        await core.createNamespace({ body: { metadata: { name } } });
        return name;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
