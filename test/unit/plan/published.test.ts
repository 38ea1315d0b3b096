import type { ConfigMap, Deployment } from '../../../src/kube/types.ts';
import { NOTHING_PENDING, PENDING_REMOVALS_ANNOTATION, serialisePending } from '../../../src/plan/pending-annotation.ts';
import { configMapAnnotations, ENDPOINTS_HASH_ANNOTATION, publishedHash, publishedState, rolledHash } from '../../../src/plan/published.ts';

const KEY = 'servicediscovery.yml';

function configMap(text: string | undefined, annotations: Record<string, string> = {}): ConfigMap {
  return { metadata: { name: 'sd', annotations }, data: text === undefined ? {} : { [KEY]: text } };
}

describe('publishedState', () => {
  it.each<[string, ConfigMap | undefined]>([
    ['no ConfigMap', undefined],
    ['the key missing', configMap(undefined)],
    ['an empty list', configMap('- targets: []\n')],
    ['unreadable text', configMap('{{{')],
  ])('%s: nothing published to start from', (_name, object) => {
    expect(publishedState(object, KEY)).toBeUndefined();
  });

  it('reads hosts without ports, deduped and sorted, from either layout as the older tool wrote it', () => {
    const text = '- targets:\n  - b-grpc.example.com.:10901\n  - A-grpc.example.com.:10901\n  - b-grpc.example.com.:10902';
    expect(publishedState(configMap(text), KEY)).toEqual({
      hosts: ['a-grpc.example.com', 'b-grpc.example.com'],
      missing: new Map(),
      window: [],
    });
  });

  it('carries the removal state of the pending-removals annotation', () => {
    const pending = serialisePending({ missing: new Map([['b-grpc.example.com', 2]]), window: [] });
    const object = configMap('endpoints:\n  - address: a-grpc.example.com.:10901\n  - address: b-grpc.example.com.:10901\n', {
      [PENDING_REMOVALS_ANNOTATION]: pending,
    });
    expect(publishedState(object, KEY)?.missing).toEqual(new Map([['b-grpc.example.com', 2]]));
  });
});

describe('the annotations the controller owns', () => {
  it('leaves the pending-removals annotation out when nothing is pending, so server-side apply removes it', () => {
    expect(configMapAnnotations('abc', NOTHING_PENDING)).toEqual({ [ENDPOINTS_HASH_ANNOTATION]: 'abc' });
    expect(configMapAnnotations('abc', '{"v":2}')).toEqual({
      [ENDPOINTS_HASH_ANNOTATION]: 'abc',
      [PENDING_REMOVALS_ANNOTATION]: '{"v":2}',
    });
  });

  it('reads the published hash from the ConfigMap and the rolled one from the pod template', () => {
    const deployment: Deployment = {
      metadata: { annotations: { [ENDPOINTS_HASH_ANNOTATION]: 'object-level, not rolled' } },
      spec: { selector: {}, template: { metadata: { annotations: { [ENDPOINTS_HASH_ANNOTATION]: 'rolled' } } } },
    };
    expect(rolledHash(deployment)).toBe('rolled');
    expect(rolledHash(undefined)).toBeUndefined();
    expect(publishedHash(configMap('x', { [ENDPOINTS_HASH_ANNOTATION]: 'published' }))).toBe('published');
    expect(publishedHash(configMap('x'))).toBeUndefined();
  });
});
