import type { Container, Deployment, Volume } from '../../../src/kube/types.ts';
import { checkConsumer, parseDuration, type ConsumerExpectation } from '../../../src/diagnostics/consumer-check.ts';

const EXPECTED: ConsumerExpectation = {
  configMapName: 'thanos-store-sd',
  configMapKey: 'servicediscovery.yml',
  format: 'endpoint-config',
  restartMode: 'annotation',
  pollIntervalMs: 60_000,
};
const FILE = '/etc/thanos/sd/servicediscovery.yml';
const VOLUME: Volume = { name: 'sd', configMap: { name: 'thanos-store-sd' } };

function deployment(args: string[], overrides: { container?: Partial<Container>; volumes?: Volume[] } = {}): Deployment {
  const container: Container = {
    name: 'query',
    args: ['query', ...args],
    volumeMounts: [{ name: 'sd', mountPath: '/etc/thanos/sd' }],
    ...overrides.container,
  };
  return { spec: { selector: {}, template: { spec: { containers: [container], volumes: overrides.volumes ?? [VOLUME] } } } };
}

describe('checkConsumer', () => {
  it.each<{ name: string; deployment: Deployment; expected?: Partial<ConsumerExpectation>; reasons: string[] }>([
    { name: 'endpoint-config read from the mounted directory', deployment: deployment([`--endpoint.sd-config-file=${FILE}`]), reasons: [] },
    { name: 'the flag and its value as two words', deployment: deployment(['--endpoint.sd-config-file', FILE]), reasons: [] },
    {
      name: 'file_sd through a glob',
      deployment: deployment(['--store.sd-files=/etc/thanos/sd/*.yml']),
      expected: { format: 'file_sd' },
      reasons: [],
    },
    {
      name: 'a projected volume with the key renamed',
      deployment: deployment(['--endpoint.sd-config-file=/etc/thanos/sd/endpoints.yaml'], {
        volumes: [
          {
            name: 'sd',
            projected: {
              sources: [{ configMap: { name: 'thanos-store-sd', items: [{ key: 'servicediscovery.yml', path: 'endpoints.yaml' }] } }],
            },
          },
        ],
      }),
      reasons: [],
    },
    {
      name: 'no volume of the ConfigMap',
      deployment: deployment([`--endpoint.sd-config-file=${FILE}`], { volumes: [] }),
      reasons: ['configmap-not-mounted'],
    },
    {
      name: 'a volume no container mounts',
      deployment: deployment([`--endpoint.sd-config-file=${FILE}`], { container: { volumeMounts: [] } }),
      reasons: ['configmap-not-mounted'],
    },
    {
      name: 'items that leave the key out',
      deployment: deployment([`--endpoint.sd-config-file=${FILE}`], {
        volumes: [{ name: 'sd', configMap: { name: 'thanos-store-sd', items: [{ key: 'other', path: 'other' }] } }],
      }),
      reasons: ['configmap-not-mounted'],
    },
    {
      name: 'a subPath mount of the file',
      deployment: deployment(['--endpoint.sd-config-file=/etc/thanos/stores.yml'], {
        container: { volumeMounts: [{ name: 'sd', mountPath: '/etc/thanos/stores.yml', subPath: 'servicediscovery.yml' }] },
      }),
      reasons: ['subpath-mount'],
    },
    {
      name: 'file_sd flag while writing endpoint-config',
      deployment: deployment([`--store.sd-files=${FILE}`]),
      reasons: ['flag-for-other-format'],
    },
    {
      name: 'endpoint-config flag while writing file_sd',
      deployment: deployment([`--endpoint.sd-config-file=${FILE}`]),
      expected: { format: 'file_sd' },
      reasons: ['flag-for-other-format'],
    },
    {
      name: 'file_sd without any flag for the file',
      deployment: deployment([]),
      expected: { format: 'file_sd' },
      reasons: ['flag-missing'],
    },
    {
      name: 'the flag names another file',
      deployment: deployment(['--endpoint.sd-config-file=/etc/other.yml']),
      reasons: ['flag-missing'],
    },
    {
      name: 'the --endpoint.config flag, which Thanos does not have',
      deployment: deployment([`--endpoint.config=${FILE}`]),
      reasons: ['flag-missing'],
    },
    {
      name: 'RESTART_MODE=none with the default 5m reload interval',
      deployment: deployment([`--endpoint.sd-config-file=${FILE}`]),
      expected: { restartMode: 'none' },
      reasons: ['refresh-slower-than-poll'],
    },
    {
      name: 'RESTART_MODE=none with a reload interval within the poll interval',
      deployment: deployment([`--endpoint.sd-config-file=${FILE}`, '--endpoint.sd-config-reload-interval=30s']),
      expected: { restartMode: 'none' },
      reasons: [],
    },
    {
      name: 'RESTART_MODE=none with file_sd and the default 30s DNS interval, polling every 60 s',
      deployment: deployment([`--store.sd-files=${FILE}`]),
      expected: { restartMode: 'none', format: 'file_sd' },
      reasons: [],
    },
    {
      name: 'RESTART_MODE=none with file_sd and a 2m DNS interval',
      deployment: deployment([`--store.sd-files=${FILE}`, '--store.sd-dns-interval=2m']),
      expected: { restartMode: 'none', format: 'file_sd' },
      reasons: ['refresh-slower-than-poll'],
    },
    {
      name: 'an interval that is not a duration',
      deployment: deployment([`--endpoint.sd-config-file=${FILE}`, '--endpoint.sd-config-reload-interval=soon']),
      expected: { restartMode: 'none' },
      reasons: ['refresh-slower-than-poll'],
    },
    {
      name: 'a subPath mount and the wrong flag: both said',
      deployment: deployment(['--store.sd-files=/etc/thanos/stores.yml'], {
        container: { volumeMounts: [{ name: 'sd', mountPath: '/etc/thanos/stores.yml', subPath: 'servicediscovery.yml' }] },
      }),
      reasons: ['subpath-mount', 'flag-for-other-format'],
    },
  ])('$name', ({ deployment: given, expected, reasons }) => {
    const problems = checkConsumer(given, { ...EXPECTED, ...expected });
    expect(problems.map((problem) => problem.reason)).toEqual(reasons);
    for (const problem of problems) expect(problem.message).not.toBe('');
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1m30s', 90_000],
    ['250ms', 250],
    ['1h', 3_600_000],
    ['', undefined],
    ['5', undefined],
    ['5 m', undefined],
  ])('%j -> %j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
