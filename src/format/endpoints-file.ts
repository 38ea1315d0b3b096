import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { parse as parseYaml, stringify } from 'yaml';
import type { OutputFormat } from '../config.ts';
import { hasEndpointSettings, type EndpointSettings } from './endpoint-settings.ts';

/**
 * The published file, both layouts, in one place: hosts -> endpoints -> rendered text (with the endpoint-config
 * settings) -> hash, and the inverse, reading what a ConfigMap holds today. Endpoints are compared as normalised
 * sets, never as text, so a file written by the older tool (its own order, trailing dots) counts as equal and is
 * adopted without a write or a restart.
 */

/** `host:port`, host lower case without a trailing dot; sorted and unique once in a list. */
export type Endpoint = string;

export function toEndpoints(hosts: readonly string[], port: number): Endpoint[] {
  return sortedUnique(hosts.map((host) => `${normaliseHost(host)}:${port}`));
}

export function normaliseEndpoint(address: string): Endpoint | undefined {
  const match = /^(.+):(\d{1,5})$/.exec(address.trim());
  if (!match?.[1] || !match[2]) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return `${normaliseHost(match[1])}:${port}`;
}

function normaliseHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function sortedUnique(values: readonly string[]): string[] {
  // Lists here are nearly always sorted and unique already (the reader sorts, we publish sorted): one linear check
  // spares a set and a sort at 10,000 endpoints.
  if (values.every((value, i) => i === 0 || values[i - 1]! < value)) return [...values];
  return [...new Set(values)].sort();
}

/**
 * The text to publish and the hash to roll on. Without settings both are exactly what they were before settings
 * existed, so an upgrade writes nothing and rolls nothing; with settings the hash covers them too, since a changed
 * CA or server name changes what Thanos connects to as much as a changed address does.
 */
export function renderPublished(
  endpoints: readonly Endpoint[],
  format: OutputFormat,
  settings: EndpointSettings | undefined,
): { text: string; hash: string } {
  if (format !== 'endpoint-config' || !hasEndpointSettings(settings)) {
    return { text: renderEndpointsFile(endpoints, format), hash: hashEndpoints(endpoints) };
  }
  const text = renderEndpointConfig(endpoints.map(absolute), settings);
  const fingerprint = settingsFingerprint(parseYaml(text));
  const hash = createHash('sha256')
    .update(`${hashEndpoints(endpoints)}\n${fingerprint}`)
    .digest('hex')
    .slice(0, 16);
  return { text, hash };
}

/**
 * The older tool's file_sd text, or the `endpoints:` file of Thanos' `--endpoint.sd-config-file`. Names are written
 * absolute (`host.:port`), as the older tool wrote them: in a pod with the default `ndots:5` a relative name is
 * first tried against every search domain, several failed DNS queries per endpoint on each resolution.
 */
export function renderEndpointsFile(endpoints: readonly Endpoint[], format: OutputFormat): string {
  const addresses = endpoints.map(absolute);
  if (format === 'endpoint-config') {
    return `endpoints:\n${addresses.map((address) => `  - address: ${address}\n`).join('')}`;
  }
  return `- targets:\n${addresses.map((address) => `  - ${address}\n`).join('')}`;
}

/** `host.:port` for a name (absolute, see renderEndpointsFile); an IP address stays as it is. */
function absolute(endpoint: Endpoint): string {
  const separator = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, separator);
  return isIP(host) === 0 ? `${host}.${endpoint.slice(separator)}` : endpoint;
}

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

/** Short, stable digest of the set (not the text), so a format change alone never restarts Thanos. */
export function hashEndpoints(endpoints: readonly Endpoint[]): string {
  return createHash('sha256').update(sortedUnique(endpoints).join('\n')).digest('hex').slice(0, 16);
}

export type ParsedEndpointsFile = { ok: true; format: OutputFormat; endpoints: Endpoint[] } | { ok: false; reason: string };

/**
 * Reads either format; anything else (bad YAML, wrong shape, bad address) is reported with its reason. The layouts
 * this controller and the older tool write are read by a line scanner; only other text goes through the YAML parser,
 * which costs ~60% of a pass at 10,000 endpoints.
 */
export function parseEndpointsFile(text: string): ParsedEndpointsFile {
  const scanned = scanEndpointsFile(text);
  return scanned ? toParsed(scanned.format, scanned.addresses) : parseEndpointsYaml(text);
}

/** The text as YAML, whatever its layout. */
export function parseEndpointsYaml(text: string): ParsedEndpointsFile {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    return { ok: false, reason: `not valid YAML: ${(error as Error).message.split('\n')[0]}` };
  }
  const addresses = extractAddresses(document);
  return addresses.ok ? toParsed(addresses.format, addresses.values) : addresses;
}

const SCANNED_LAYOUTS = [
  { format: 'file_sd', header: '- targets:', item: '  - ' },
  { format: 'endpoint-config', header: 'endpoints:', item: '  - address: ' },
] as const;
// Only a plain `host:port` scalar: YAML reads it as this very string (no quotes, comments, flow or special values).
const PLAIN_ADDRESS = /^[A-Za-z0-9][-A-Za-z0-9_.]*:[0-9]+$/;

/**
 * The addresses of a text laid out exactly as `renderEndpointsFile` (or the older tool, without the final newline)
 * writes it; undefined for any other text, which the YAML parser then reads.
 */
export function scanEndpointsFile(text: string): { format: OutputFormat; addresses: string[] } | undefined {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const layout = SCANNED_LAYOUTS.find((candidate) => candidate.header === lines[0]);
  if (layout === undefined || lines.length < 2) return undefined;
  const addresses: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith(layout.item)) return undefined;
    const address = line.slice(layout.item.length);
    if (!PLAIN_ADDRESS.test(address)) return undefined;
    addresses.push(address);
  }
  return { format: layout.format, addresses };
}

function toParsed(format: OutputFormat, addresses: readonly unknown[]): ParsedEndpointsFile {
  const endpoints: Endpoint[] = [];
  for (const address of addresses) {
    const endpoint = typeof address === 'string' ? normaliseEndpoint(address) : undefined;
    if (endpoint === undefined) return { ok: false, reason: `not a host:port address: ${JSON.stringify(address)}` };
    endpoints.push(endpoint);
  }
  return { ok: true, format, endpoints: sortedUnique(endpoints) };
}

function extractAddresses(document: unknown): { ok: true; format: OutputFormat; values: unknown[] } | { ok: false; reason: string } {
  if (Array.isArray(document)) {
    const values: unknown[] = [];
    for (const group of document) {
      const targets: unknown = isRecord(group) ? group['targets'] : undefined;
      if (!Array.isArray(targets)) return { ok: false, reason: 'a file_sd entry has no `targets` list' };
      values.push(...(targets as unknown[]));
    }
    return { ok: true, format: 'file_sd', values };
  }
  if (isRecord(document) && Array.isArray(document['endpoints'])) {
    const values = document['endpoints'].map((entry: unknown) => (isRecord(entry) ? entry['address'] : entry));
    return { ok: true, format: 'endpoint-config', values };
  }
  return { ok: false, reason: 'neither a file_sd list nor an `endpoints:` document' };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a ConfigMap publishes under `key`, normalised; undefined when it holds nothing readable there. */
export function publishedEndpoints(data: Readonly<Record<string, string>> | undefined, key: string): Endpoint[] | undefined {
  const text = data?.[key];
  if (text === undefined) return undefined;
  const parsed = parseEndpointsFile(text);
  return parsed.ok ? parsed.endpoints : undefined;
}

export function diffEndpoints(before: readonly Endpoint[], after: readonly Endpoint[]): { added: Endpoint[]; removed: Endpoint[] } {
  if (before === after) return { added: [], removed: [] };
  const old = new Set(before);
  const next = new Set(after);
  return { added: after.filter((e) => !old.has(e)), removed: before.filter((e) => !next.has(e)) };
}

/** Whether two endpoint-config documents listing the same addresses differ in their settings. */
export function settingsDiffer(publishedText: string, renderedText: string): boolean {
  try {
    return settingsFingerprint(parseYaml(publishedText)) !== settingsFingerprint(parseYaml(renderedText));
  } catch {
    return true;
  }
}
