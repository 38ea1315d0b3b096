import type { ConfigMap, Deployment } from '../../../src/kube/types.ts';
import { rolloutPending } from '../../../src/diagnostics/wiring.ts';
import { ENDPOINTS_HASH_ANNOTATION } from '../../../src/plan/published.ts';

const configMap = (hash?: string): ConfigMap => ({ metadata: { annotations: hash ? { [ENDPOINTS_HASH_ANNOTATION]: hash } : {} } });
const deployment = (hash?: string): Deployment => ({
  spec: { selector: {}, template: { metadata: { annotations: hash ? { [ENDPOINTS_HASH_ANNOTATION]: hash } : {} } } },
});

describe('rolloutPending', () => {
  it.each([
    { name: 'the pod template carries the published hash', configMap: configMap('h2'), deployment: deployment('h2'), pending: false },
    { name: 'the pod template carries an older hash', configMap: configMap('h2'), deployment: deployment('h1'), pending: true },
    { name: 'the pod template carries none yet', configMap: configMap('h2'), deployment: deployment(), pending: true },
    { name: 'the ConfigMap carries no hash (not ours yet)', configMap: configMap(), deployment: deployment('h1'), pending: false },
    { name: 'there is no Deployment to roll', configMap: configMap('h2'), deployment: undefined, pending: false },
    { name: 'there is no ConfigMap', configMap: undefined, deployment: deployment('h1'), pending: false },
  ])('$name: $pending', ({ configMap: published, deployment: rolled, pending }) => {
    expect(rolloutPending(published, rolled)).toBe(pending);
  });
});
