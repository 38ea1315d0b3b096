import type { OutputFormat, RestartMode } from '../config.ts';
import type { EndpointSettings } from '../format/endpoint-settings.ts';
import { NOTHING_PENDING, samePendingState } from './pending-annotation.ts';
import {
  diffEndpoints,
  parseEndpointsFile,
  renderPublished,
  settingsDiffer,
  toEndpoints,
  type Endpoint,
} from '../format/endpoints-file.ts';

/** What the informer caches show, reduced to the facts a decision needs. */
export interface ObservedState {
  configMap:
    | { exists: false }
    | { exists: true; text: string | undefined; hashAnnotation: string | undefined; pendingAnnotation?: string | undefined };
  deployment: { exists: false } | { exists: true; hashAnnotation: string | undefined };
}

export interface DecisionInput {
  /** Hosts of the last successful Route53 poll; undefined before the first one. */
  desiredHosts: readonly string[] | undefined;
  port: number;
  format: OutputFormat;
  restartMode: RestartMode;
  observed: ObservedState;
  /** The removals waiting for confirmation, serialised for the ConfigMap annotation that carries them across runs. */
  pendingRemovals?: string;
  /** TLS and per-endpoint settings (endpoint-config only); none when undefined. */
  settings?: EndpointSettings;
}

export type ConfigMapAction =
  | { kind: 'none' }
  | { kind: 'create' }
  | {
      kind: 'update';
      reason: 'endpoints differ' | 'format differs' | 'settings differ' | 'key missing' | 'unreadable' | 'pending removals';
      detail?: string;
    };

export type RestartAction = { kind: 'none'; reason: 'disabled' | 'deployment missing' | 'up to date' | 'adopted' } | { kind: 'patch' };

export type Plan =
  | { kind: 'wait'; reason: 'no successful Route53 poll yet' }
  | { kind: 'skip-empty' }
  | {
      kind: 'converge';
      endpoints: Endpoint[];
      text: string;
      hash: string;
      /** Against what the ConfigMap published before this pass (all of `endpoints` when it held nothing readable). */
      added: Endpoint[];
      removed: Endpoint[];
      configMap: ConfigMapAction;
      restart: RestartAction;
    };

/** Decides a reconcile pass from the desired hosts and the observed objects; no I/O. */
export function decide(input: DecisionInput): Plan {
  if (input.desiredHosts === undefined) return { kind: 'wait', reason: 'no successful Route53 poll yet' };
  // An empty read is far likelier a broken zone or permissions than every cluster gone: never wipe the list.
  if (input.desiredHosts.length === 0) return { kind: 'skip-empty' };

  const endpoints = toEndpoints(input.desiredHosts, input.port);
  const { text, hash } = renderPublished(endpoints, input.format, input.settings);
  const published = readPublished(input.observed.configMap, { text, format: input.format, endpoints });
  const configMap = withSettings(decideConfigMap(published, endpoints, input.format, samePending(input)), input.observed.configMap, text);
  const { added, removed } = diffEndpoints(published.endpoints, endpoints);
  return {
    kind: 'converge',
    endpoints,
    text,
    hash,
    added,
    removed,
    configMap,
    restart: decideRestart(input, hash, configMap),
  };
}

type Published =
  | { state: 'missing' | 'key missing'; endpoints: Endpoint[] }
  | { state: 'unreadable'; reason: string; endpoints: Endpoint[] }
  | { state: 'readable'; format: OutputFormat; endpoints: Endpoint[] };

function readPublished(
  configMap: ObservedState['configMap'],
  rendered: { text: string; format: OutputFormat; endpoints: Endpoint[] },
): Published {
  if (!configMap.exists) return { state: 'missing', endpoints: [] };
  if (configMap.text === undefined) return { state: 'key missing', endpoints: [] };
  // The steady state: what is published is what we would write, so there is nothing to parse.
  if (configMap.text === rendered.text) return { state: 'readable', format: rendered.format, endpoints: rendered.endpoints };
  const parsed = parseEndpointsFile(configMap.text);
  if (!parsed.ok) return { state: 'unreadable', reason: parsed.reason, endpoints: [] };
  return { state: 'readable', format: parsed.format, endpoints: parsed.endpoints };
}

// No annotation (the older tool's ConfigMap, or ours with nothing pending) means nothing pending.
function samePending(input: DecisionInput): boolean {
  const observed = input.observed.configMap.exists ? input.observed.configMap.pendingAnnotation : undefined;
  return samePendingState(observed, input.pendingRemovals ?? NOTHING_PENDING);
}

function decideConfigMap(
  published: Published,
  endpoints: readonly Endpoint[],
  format: OutputFormat,
  pendingSame: boolean,
): ConfigMapAction {
  switch (published.state) {
    case 'missing':
      return { kind: 'create' };
    case 'key missing':
      return { kind: 'update', reason: 'key missing' };
    case 'unreadable':
      return { kind: 'update', reason: 'unreadable', detail: published.reason };
    case 'readable':
      if (!sameList(published.endpoints, endpoints)) return { kind: 'update', reason: 'endpoints differ' };
      if (published.format !== format) return { kind: 'update', reason: 'format differs' };
      if (!pendingSame) return { kind: 'update', reason: 'pending removals' };
      return { kind: 'none' };
  }
}

/** Same addresses in the same format can still differ in TLS or per-endpoint settings (endpoint-config only). */
function withSettings(action: ConfigMapAction, configMap: ObservedState['configMap'], text: string): ConfigMapAction {
  // The text we would write is there to the byte: settings included, nothing to parse.
  if (action.kind !== 'none' || !configMap.exists || configMap.text === undefined || configMap.text === text) return action;
  const readable = parseEndpointsFile(configMap.text);
  if (!readable.ok || readable.format !== 'endpoint-config') return action;
  return settingsDiffer(configMap.text, text) ? { kind: 'update', reason: 'settings differ' } : action;
}

function decideRestart(input: DecisionInput, hash: string, configMap: ConfigMapAction): RestartAction {
  if (input.restartMode === 'none') return { kind: 'none', reason: 'disabled' };
  const { deployment } = input.observed;
  if (!deployment.exists) return { kind: 'none', reason: 'deployment missing' };
  if (deployment.hashAnnotation === hash) return { kind: 'none', reason: 'up to date' };
  // Taking over from the older tool: its ConfigMap already holds this set and its pods already loaded it. The
  // ConfigMap carrying our hash means we wrote it and have not yet rolled the pods, so that case still restarts.
  const adopted =
    deployment.hashAnnotation === undefined &&
    configMap.kind === 'none' &&
    input.observed.configMap.exists &&
    input.observed.configMap.hashAnnotation === undefined;
  return adopted ? { kind: 'none', reason: 'adopted' } : { kind: 'patch' };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
