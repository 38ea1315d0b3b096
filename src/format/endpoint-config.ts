import { stringify } from 'yaml';
import type { EndpointSettings } from './endpoint-settings.ts';

/**
 * The `--endpoint.sd-config-file` document with settings: `default_client_config` when any TLS field is set, and per
 * endpoint `strict` and `client_config` (server_name, compression) where they apply. Keys Thanos would default are
 * left out. `addresses` are as published (`host.:port`).
 */
export function renderEndpointConfig(addresses: readonly string[], settings: EndpointSettings): string {
  const tls = tlsConfig(settings.tls);
  const document: Record<string, unknown> = {};
  if (tls !== undefined) document['default_client_config'] = { tls_config: tls };
  document['endpoints'] = addresses.map((address) => endpointEntry(address, settings));
  return stringify(document);
}

function tlsConfig(tls: EndpointSettings['tls']): Record<string, unknown> | undefined {
  const rendered = definedOnly({
    enabled: tls.enabled,
    ca_file: tls.caFile,
    cert_file: tls.certFile,
    key_file: tls.keyFile,
    insecure_skip_verify: tls.insecureSkipVerify,
    min_version: tls.minVersion,
  });
  return Object.keys(rendered).length === 0 ? undefined : rendered;
}

function endpointEntry(address: string, settings: EndpointSettings): Record<string, unknown> {
  const host = hostOf(address);
  const entry: Record<string, unknown> = { address };
  if (settings.strictHosts?.test(host)) entry['strict'] = true;
  // server_name makes this endpoint's TLS its own; Thanos fills the rest from default_client_config.
  if (settings.serverNameFromHost) entry['client_config'] = definedOnly({ server_name: host, compression: settings.compression });
  return entry;
}

/** The host of `host.:port` without the trailing dot: the name a certificate and an SNI router know. */
function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(':')).replace(/\.$/, '');
}

function definedOnly(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/**
 * Everything in an endpoint-config document besides which addresses it lists, in a canonical form (endpoints by
 * normalised address), so two documents with the same settings compare equal whatever their order or spelling.
 */
export function settingsFingerprint(document: unknown): string {
  const record = isRecord(document) ? document : {};
  const endpoints = Array.isArray(record['endpoints']) ? record['endpoints'] : [];
  const perEndpoint = endpoints
    .filter(isRecord)
    .map((entry) => {
      const { address, ...rest } = entry;
      return [String(address).toLowerCase().replace(/\.:/, ':'), canonical(rest)] as const;
    })
    .filter(([, rest]) => rest !== '{}')
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return canonical({ default_client_config: record['default_client_config'] ?? null, endpoints: perEndpoint });
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
