import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { OutputFormat } from '../config.ts';

/**
 * The pure core of a reconcile pass: hosts -> endpoints -> rendered file -> hash, and the inverse, reading what a
 * ConfigMap holds today. Endpoints are compared as normalised sets, never as text, so a file written by the older
 * tool (its own order, trailing dots) counts as equal and is adopted without a write or a restart.
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
  return [...new Set(values)].sort();
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
export function absolute(endpoint: Endpoint): string {
  const separator = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, separator);
  return isIP(host) === 0 ? `${host}.${endpoint.slice(separator)}` : endpoint;
}

/** Short, stable digest of the set (not the text), so a format change alone never restarts Thanos. */
export function hashEndpoints(endpoints: readonly Endpoint[]): string {
  return createHash('sha256').update(sortedUnique(endpoints).join('\n')).digest('hex').slice(0, 16);
}

export type ParsedEndpointsFile =
  | { ok: true; format: OutputFormat; endpoints: Endpoint[] }
  | { ok: false; reason: string };

/** Reads either format; anything else (bad YAML, wrong shape, bad address) is reported with its reason. */
export function parseEndpointsFile(text: string): ParsedEndpointsFile {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    return { ok: false, reason: `not valid YAML: ${(error as Error).message.split('\n')[0]}` };
  }
  const addresses = extractAddresses(document);
  if (!addresses.ok) return addresses;
  const endpoints: Endpoint[] = [];
  for (const address of addresses.values) {
    const endpoint = typeof address === 'string' ? normaliseEndpoint(address) : undefined;
    if (endpoint === undefined) return { ok: false, reason: `not a host:port address: ${JSON.stringify(address)}` };
    endpoints.push(endpoint);
  }
  return { ok: true, format: addresses.format, endpoints: sortedUnique(endpoints) };
}

function extractAddresses(
  document: unknown,
): { ok: true; format: OutputFormat; values: unknown[] } | { ok: false; reason: string } {
  if (Array.isArray(document)) {
    const values: unknown[] = [];
    for (const group of document) {
      const targets: unknown = isRecord(group) ? group['targets'] : undefined;
      if (!Array.isArray(targets)) return { ok: false, reason: 'a file_sd entry has no `targets` list' };
      values.push(...targets);
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

export function diffEndpoints(
  before: readonly Endpoint[],
  after: readonly Endpoint[],
): { added: Endpoint[]; removed: Endpoint[] } {
  const old = new Set(before);
  const next = new Set(after);
  return { added: after.filter((e) => !old.has(e)), removed: before.filter((e) => !next.has(e)) };
}
