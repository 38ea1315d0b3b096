/**
 * The parts of the Kubernetes objects this controller reads or writes, as the API's JSON carries them (timestamps are
 * strings). Only the fields used here are declared; the server keeps every other field as it is.
 */

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
}

export interface ObjectList<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

export interface ConfigMap {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  data?: Record<string, string>;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface KeyToPath {
  key: string;
  path: string;
}

export interface ConfigMapSource {
  name?: string;
  items?: KeyToPath[];
}

export interface Volume {
  name: string;
  configMap?: ConfigMapSource;
  projected?: { sources?: Array<{ configMap?: ConfigMapSource }> };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  subPathExpr?: string;
}

export interface Container {
  name: string;
  command?: string[];
  args?: string[];
  volumeMounts?: VolumeMount[];
}

export interface Deployment {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: {
    replicas?: number;
    selector?: LabelSelector;
    template?: { metadata?: ObjectMeta; spec?: { containers?: Container[]; volumes?: Volume[] } };
  };
}

export interface Pod {
  metadata?: ObjectMeta;
  status?: { phase?: string; podIP?: string };
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** RFC 3339 with microseconds, as `formatMicroTime` writes it. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: LeaseSpec;
}

export interface CoreEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: ObjectMeta;
  involvedObject: { kind: string; name: string; namespace: string; apiVersion: string; uid?: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
  source: { component: string };
  reportingComponent: string;
}

/**
 * A metav1.MicroTime: the apiserver parses exactly six fractional digits (RFC3339Micro), where `toISOString` gives
 * three.
 */
export function formatMicroTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/(\.\d{3})Z$/, '$1000Z');
}
