// `npm run bench`, image part: the image `npm run image` builds, its size, and the time from `podman run` to
// /readyz 200 against the real peers (kube-apiserver + etcd, moto; a zone of 700 endpoints), run as the chart runs it
// (uid 1000, read-only root, /tmp a tmpfs, the chart's default flags), with its compile cache and with the cache
// turned off, to show what the cache is worth. Results: bench/results/image.json. The bases are this machine's
// stand-ins (see the README), so the size is not that of an image built on the public bases.
import { copyFileSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/peers/ports.ts';
import { TEST_AWS_CREDENTIALS, TEST_AWS_REGION } from '../test/peers/route53-fixture.ts';
import { buildImage, envFlags, logTail, podman, podmanOk } from '../test/support/container.ts';
import { createThanosDeployment } from '../test/support/thanos.ts';
import { CHART_NODE_ARGS, startPeers } from './real-peers.ts';

const STARTS = 5;
const ENDPOINTS = 700;
const out = fileURLToPath(new URL('./results/image.json', import.meta.url));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const started = Date.now();
const image = await buildImage();
const buildSeconds = (Date.now() - started) / 1000;
const sizeBytes = Number(await podmanOk(['image', 'inspect', '--format', '{{.Size}}', image]));

const peers = await startPeers();
try {
  const zone = await peers.zone(ENDPOINTS);
  const kubeConfig = peers.controlPlane.kubeConfig();
  const namespace = await peers.controlPlane.createNamespace('bench-image');
  await createThanosDeployment(kubeConfig, namespace);
  // Readable by the container's uid 1000 (the control plane writes it for root only).
  const kubeconfig = join(peers.dir, 'kubeconfig-for-containers.yaml');
  copyFileSync(peers.controlPlane.kubeconfigPath, kubeconfig);
  chmodSync(kubeconfig, 0o644);

  /** Seconds from `podman run` to /readyz 200; the container is removed after. */
  async function startToReady(extraEnv: Record<string, string>): Promise<number> {
    const port = await freePort();
    const name = `tsd-bench-${port}`;
    const env = {
      DEVELOPER_MODE: 'true',
      KUBECONFIG: '/kubeconfig',
      PRIVATE_HOSTED_ZONE_ID: zone,
      THANOS_NAMESPACE: namespace,
      THANOS_DEPLOYMENT_NAME: 'thanos-query',
      THANOS_CONFIGMAP_NAME: 'thanos-store-sd',
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
      AWS_ENDPOINT_URL_ROUTE_53: peers.motoEndpoint,
      AWS_REGION: TEST_AWS_REGION,
      AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
      ...extraEnv,
    };
    const t0 = performance.now();
    await podmanOk([
      ...['run', '--detach', '--name', name, '--user', '1000:1000', '--read-only', '--read-only-tmpfs=false', '--tmpfs', '/tmp'],
      ...['--volume', `${kubeconfig}:/kubeconfig:ro`, ...envFlags(env), image, ...CHART_NODE_ARGS, 'main.mjs'],
    ]);
    try {
      for (;;) {
        const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (response) => response.status,
          () => 0,
        );
        if (status === 200) return (performance.now() - t0) / 1000;
        if ((await podmanOk(['inspect', '--format', '{{.State.Running}}', name])) !== 'true') throw new Error(logTail(name));
        await sleep(20);
      }
    } finally {
      await podman(['rm', '--force', '--time', '0', name]);
    }
  }

  const variants = { 'compile cache (as built)': {}, 'compile cache off': { NODE_DISABLE_COMPILE_CACHE: '1' } };
  const startToReadySeconds: Record<string, { median: number; samples: number[] }> = {};
  for (const [variant, env] of Object.entries(variants)) {
    const samples: number[] = [];
    for (let i = 0; i < STARTS; i++) samples.push(Number((await startToReady(env)).toFixed(2)));
    startToReadySeconds[variant] = { median: median(samples), samples };
    console.log(variant, startToReadySeconds[variant]);
  }
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, loadAverage: loadavg().map((load) => Number(load.toFixed(2))) },
    image: { id: image, sizeMb: Number((sizeBytes / 1e6).toFixed(1)), bases: 'stand-ins (scripts/image/bases.sh)' },
    buildSeconds: Number(buildSeconds.toFixed(1)),
    endpoints: ENDPOINTS,
    startToReadySeconds,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report));
} finally {
  await peers.stop();
}
