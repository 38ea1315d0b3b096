import type { Deployment, Pod } from '../../../src/kube/types.ts';
import { podSelector, podTargets } from '../../../src/diagnostics/pod-targets.ts';

function pod(name: string, phase: string, podIP?: string, deleting = false): Pod {
  return {
    metadata: { name, ...(deleting ? { deletionTimestamp: new Date().toISOString() } : {}) },
    status: { phase, ...(podIP === undefined ? {} : { podIP }) },
  };
}

describe('podSelector', () => {
  it.each<[string, Deployment | undefined, string | undefined]>([
    ['matchLabels as a label selector', { spec: { selector: { matchLabels: { app: 'q', tier: 'x' } }, template: {} } }, 'app=q,tier=x'],
    ['no Deployment', undefined, undefined],
    ['an empty selector would list every pod', { spec: { selector: {}, template: {} } }, undefined],
    [
      'matchExpressions are not translated',
      { spec: { selector: { matchLabels: { app: 'q' }, matchExpressions: [{ key: 'x', operator: 'Exists' }] }, template: {} } },
      undefined,
    ],
  ])('%s', (_name, deployment, expected) => {
    expect(podSelector(deployment)).toBe(expected);
  });
});

describe('podTargets', () => {
  it('each running pod on its IP, with the Service URL port and path; pending, IP-less and deleting pods skipped', () => {
    const pods = [
      pod('q-2', 'Running', '10.0.0.2'),
      pod('q-1', 'Running', 'fd00::1'),
      pod('q-3', 'Pending'),
      pod('q-4', 'Running'),
      pod('q-5', 'Running', '10.0.0.5', true),
    ];
    expect(podTargets(pods, 'http://thanos-query.monitoring.svc:9090/prefix')).toEqual([
      { source: 'pod/q-1', url: 'http://[fd00::1]:9090/prefix' },
      { source: 'pod/q-2', url: 'http://10.0.0.2:9090/prefix' },
    ]);
  });
});
