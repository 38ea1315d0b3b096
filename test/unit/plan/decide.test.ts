import { decide, type DecisionInput, type ObservedState } from '../../../src/plan/decide.ts';
import { hashEndpoints, renderEndpointsFile } from '../../../src/format/endpoints-file.ts';
import type { EndpointSettings } from '../../../src/format/endpoint-settings.ts';

const HOSTS = ['b-grpc.x', 'a-grpc.x'];
const ENDPOINTS = ['a-grpc.x:10901', 'b-grpc.x:10901'];
const HASH = hashEndpoints(ENDPOINTS);
const CURRENT_TEXT = renderEndpointsFile(ENDPOINTS, 'file_sd');
const OLD_TOOL_TEXT = '- targets:\n  - b-grpc.x.:10901\n  - a-grpc.x.:10901\n';

const ours = { exists: true, text: CURRENT_TEXT, hashAnnotation: HASH } as const;
const rolled = { exists: true, hashAnnotation: HASH } as const;

function input(observed: ObservedState, overrides: Partial<DecisionInput> = {}): DecisionInput {
  return { desiredHosts: HOSTS, port: 10901, format: 'file_sd', restartMode: 'annotation', observed, ...overrides };
}

describe('decide', () => {
  it('waits before the first successful poll', () => {
    expect(decide(input({ configMap: { exists: false }, deployment: { exists: false } }, { desiredHosts: undefined }))).toEqual({
      kind: 'wait',
      reason: 'no successful Route53 poll yet',
    });
  });

  it('never wipes the list when the poll found nothing', () => {
    expect(decide(input({ configMap: ours, deployment: rolled }, { desiredHosts: [] }))).toEqual({ kind: 'skip-empty' });
  });

  it.each<{
    name: string;
    observed: ObservedState;
    overrides?: Partial<DecisionInput>;
    configMap: object;
    restart: object;
    added?: string[];
    removed?: string[];
  }>([
    {
      name: 'fresh start: creates the ConfigMap and rolls the pods',
      observed: { configMap: { exists: false }, deployment: { exists: true, hashAnnotation: undefined } },
      configMap: { kind: 'create' },
      restart: { kind: 'patch' },
      added: ENDPOINTS,
      removed: [],
    },
    {
      name: 'steady state: nothing to do',
      observed: { configMap: ours, deployment: rolled },
      configMap: { kind: 'none' },
      restart: { kind: 'none', reason: 'up to date' },
      added: [],
      removed: [],
    },
    {
      name: 'a record added: update and roll',
      observed: {
        configMap: {
          exists: true,
          text: renderEndpointsFile(['a-grpc.x:10901'], 'file_sd'),
          hashAnnotation: hashEndpoints(['a-grpc.x:10901']),
        },
        deployment: { exists: true, hashAnnotation: hashEndpoints(['a-grpc.x:10901']) },
      },
      configMap: { kind: 'update', reason: 'endpoints differ' },
      restart: { kind: 'patch' },
      added: ['b-grpc.x:10901'],
      removed: [],
    },
    {
      name: 'hand edit of the ConfigMap: repaired, no restart since the set did not change',
      observed: { configMap: { exists: true, text: '- targets:\n  - evil:1\n', hashAnnotation: HASH }, deployment: rolled },
      configMap: { kind: 'update', reason: 'endpoints differ' },
      restart: { kind: 'none', reason: 'up to date' },
      added: ENDPOINTS,
      removed: ['evil:1'],
    },
    {
      name: 'ConfigMap deleted by hand: recreated, no restart',
      observed: { configMap: { exists: false }, deployment: rolled },
      configMap: { kind: 'create' },
      restart: { kind: 'none', reason: 'up to date' },
    },
    {
      name: 'the older tool ConfigMap (order, trailing dots): adopted without a write or a restart',
      observed: {
        configMap: { exists: true, text: OLD_TOOL_TEXT, hashAnnotation: undefined },
        deployment: { exists: true, hashAnnotation: undefined },
      },
      configMap: { kind: 'none' },
      restart: { kind: 'none', reason: 'adopted' },
    },
    {
      name: 'written by us but the pods never rolled (crash, or the Deployment appeared later): roll now',
      observed: { configMap: ours, deployment: { exists: true, hashAnnotation: undefined } },
      configMap: { kind: 'none' },
      restart: { kind: 'patch' },
    },
    {
      name: 'a restart that failed earlier is retried',
      observed: { configMap: ours, deployment: { exists: true, hashAnnotation: '0000000000000000' } },
      configMap: { kind: 'none' },
      restart: { kind: 'patch' },
    },
    {
      name: 'Deployment missing: the ConfigMap is still kept current',
      observed: { configMap: { exists: false }, deployment: { exists: false } },
      configMap: { kind: 'create' },
      restart: { kind: 'none', reason: 'deployment missing' },
    },
    {
      name: 'restart mode none: only the ConfigMap is kept',
      observed: { configMap: { exists: false }, deployment: { exists: true, hashAnnotation: undefined } },
      overrides: { restartMode: 'none' },
      configMap: { kind: 'create' },
      restart: { kind: 'none', reason: 'disabled' },
    },
    {
      name: 'our key missing from a ConfigMap with other keys',
      observed: { configMap: { exists: true, text: undefined, hashAnnotation: undefined }, deployment: rolled },
      configMap: { kind: 'update', reason: 'key missing' },
      restart: { kind: 'none', reason: 'up to date' },
    },
    {
      name: 'malformed YAML in the ConfigMap: replaced, with the reason',
      observed: { configMap: { exists: true, text: '- targets: [', hashAnnotation: HASH }, deployment: rolled },
      configMap: { kind: 'update', reason: 'unreadable', detail: expect.stringMatching(/not valid YAML/) },
      restart: { kind: 'none', reason: 'up to date' },
    },
    {
      name: 'output format switched: rewritten with the same set, no restart',
      observed: { configMap: ours, deployment: rolled },
      overrides: { format: 'endpoint-config' },
      configMap: { kind: 'update', reason: 'format differs' },
      restart: { kind: 'none', reason: 'up to date' },
    },
    {
      name: 'removals pending changed on an unchanged list: rewritten to carry them, no restart',
      observed: { configMap: ours, deployment: rolled },
      overrides: { pendingRemovals: '{"c-grpc.x":1}' },
      configMap: { kind: 'update', reason: 'pending removals' },
      restart: { kind: 'none', reason: 'up to date' },
    },
    {
      name: 'pending removals already carried: nothing to do',
      observed: { configMap: { ...ours, pendingAnnotation: '{"c-grpc.x":1}' }, deployment: rolled },
      overrides: { pendingRemovals: '{"c-grpc.x":1}' },
      configMap: { kind: 'none' },
      restart: { kind: 'none', reason: 'up to date' },
    },
    {
      name: 'no annotation and nothing pending are the same: the older tool is adopted without a write',
      observed: {
        configMap: { exists: true, text: renderEndpointsFile(ENDPOINTS, 'file_sd'), hashAnnotation: undefined },
        deployment: { exists: true, hashAnnotation: undefined },
      },
      overrides: { pendingRemovals: '{}' },
      configMap: { kind: 'none' },
      restart: { kind: 'none', reason: 'adopted' },
    },
  ])('$name', ({ observed, overrides, configMap, restart, added, removed }) => {
    const plan = decide(input(observed, overrides));
    expect(plan.kind).toBe('converge');
    if (plan.kind !== 'converge') return;
    expect(plan.endpoints).toEqual(ENDPOINTS);
    expect(plan.hash).toBe(HASH);
    expect(plan.text).toBe(renderEndpointsFile(ENDPOINTS, overrides?.format ?? 'file_sd'));
    expect(plan.configMap).toEqual(configMap);
    expect(plan.restart).toEqual(restart);
    if (added) expect(plan.added).toEqual(added);
    if (removed) expect(plan.removed).toEqual(removed);
  });

  describe('with TLS or per-endpoint settings (endpoint-config)', () => {
    const settings: EndpointSettings = {
      tls: { caFile: '/tls/ca.crt' },
      serverNameFromHost: false,
      strictHosts: undefined,
      compression: undefined,
    };
    const plainText = renderEndpointsFile(ENDPOINTS, 'endpoint-config');
    const converge = (text: string, hashAnnotation: string | undefined, withSettings = settings) => {
      const plan = decide(
        input(
          { configMap: { exists: true, text, hashAnnotation }, deployment: { exists: true, hashAnnotation } },
          { format: 'endpoint-config', settings: withSettings },
        ),
      );
      if (plan.kind !== 'converge') throw new Error(`expected converge, got ${plan.kind}`);
      return plan;
    };

    it('rewrites and rolls a published file that lacks the settings, then leaves the result alone', () => {
      const first = converge(plainText, HASH);
      expect(first.configMap).toEqual({ kind: 'update', reason: 'settings differ' });
      expect(first.hash).not.toBe(HASH);
      expect(first.restart).toEqual({ kind: 'patch' });
      const second = converge(first.text, first.hash);
      expect(second.configMap).toEqual({ kind: 'none' });
      expect(second.restart).toEqual({ kind: 'none', reason: 'up to date' });
    });

    it('settings removed: back to the plain file and the plain hash', () => {
      const withCa = converge(plainText, HASH);
      const removed = converge(withCa.text, withCa.hash, { ...settings, tls: {} });
      expect(removed.configMap).toEqual({ kind: 'update', reason: 'settings differ' });
      expect(removed.text).toBe(plainText);
      expect(removed.hash).toBe(HASH);
    });
  });
});
