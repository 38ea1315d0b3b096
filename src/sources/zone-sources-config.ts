import { parse as parseYaml } from 'yaml';

/**
 * Where zones come from: the hosted zones of one AWS account (the pod's own, or one reached through a role) that
 * match ids, domain names and/or tags. The chart renders `route53.sources` to a file named by ROUTE53_SOURCES_FILE.
 */
export interface ZoneSource {
  name: string;
  /** Read with the pod's own credentials when unset. */
  role: { arn: string; account: string; externalId: string | undefined } | undefined;
  zoneIds: string[];
  /** Lower case, no trailing dot: a zone matches when its name is one of these or below one. */
  domains: string[];
  /** Every one must be on the zone with this value. */
  tags: Record<string, string>;
  /** Public zones too (private only by default). */
  includePublic: boolean;
}

/** The account label and budget key of a source read with the pod's own credentials. */
export const OWN_ACCOUNT = 'own';

export function accountOf(source: Pick<ZoneSource, 'role'>): string {
  return source.role?.account ?? OWN_ACCOUNT;
}

/** The sources, with the zones of PRIVATE_HOSTED_ZONE_ID as one more, read with the pod's own credentials. */
export function withOwnZones(sources: readonly ZoneSource[], zoneIds: readonly string[]): ZoneSource[] {
  if (zoneIds.length === 0) return [...sources];
  return [
    ...sources,
    { name: 'PRIVATE_HOSTED_ZONE_ID', role: undefined, zoneIds: [...zoneIds], domains: [], tags: {}, includePublic: false },
  ];
}

const FIELDS = new Set(['name', 'roleArn', 'externalId', 'zoneIds', 'domains', 'tags', 'includePublic']);
const SOURCE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// arn:<partition>:iam::<12-digit account>:role/<path/name>
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
const HOSTED_ZONE_ID = /^[A-Z0-9]{1,32}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?$/;

/** Reads a sources file (YAML, so JSON too): a list of sources. Every problem is named with the source it is in. */
export function parseZoneSources(text: string, file: string): { sources: ZoneSource[]; problems: string[] } {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    return { sources: [], problems: [`${file} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`] };
  }
  if (!Array.isArray(document) || document.length === 0) {
    return { sources: [], problems: [`${file} must hold a non-empty list of zone sources`] };
  }
  const problems: string[] = [];
  const sources = document.map((entry: unknown, index) => parseSource(entry, `${file} source ${index + 1}`, problems));
  const seen = new Set<string>();
  for (const source of sources) {
    if (seen.has(source.name)) problems.push(`${file}: two sources are named "${source.name}"`);
    seen.add(source.name);
  }
  return { sources, problems };
}

function parseSource(entry: unknown, where: string, problems: string[]): ZoneSource {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.push(`${where} is not a mapping`);
    return { name: where, role: undefined, zoneIds: [], domains: [], tags: {}, includePublic: false };
  }
  const fields = entry as Record<string, unknown>;
  const name = typeof fields['name'] === 'string' ? fields['name'] : '';
  const at = name === '' ? where : `${where} ("${name}")`;
  if (!SOURCE_NAME.test(name)) problems.push(`${at}: name must be a DNS label (lower-case letters, digits, -)`);
  for (const key of Object.keys(fields)) {
    if (!FIELDS.has(key)) problems.push(`${at}: unknown field "${key}" (known: ${[...FIELDS].join(', ')})`);
  }

  const roleArn = optionalString(fields, 'roleArn', at, problems);
  const externalId = optionalString(fields, 'externalId', at, problems);
  const account = roleArn === undefined ? undefined : ROLE_ARN.exec(roleArn)?.[1];
  if (roleArn !== undefined && account === undefined) problems.push(`${at}: roleArn "${roleArn}" is not an IAM role ARN`);
  if (externalId !== undefined && !EXTERNAL_ID.test(externalId)) problems.push(`${at}: externalId is not 2-1224 of [A-Za-z0-9+=,.@:/-]`);
  if (externalId !== undefined && roleArn === undefined) problems.push(`${at}: externalId needs a roleArn`);

  const zoneIds = stringList(fields, 'zoneIds', at, problems).map((id) => id.replace(/^\/?hostedzone\//, ''));
  for (const id of zoneIds) if (!HOSTED_ZONE_ID.test(id)) problems.push(`${at}: zoneIds entry "${id}" is not a hosted zone id`);
  const domains = stringList(fields, 'domains', at, problems).map((domain) => domain.toLowerCase().replace(/\.$/, ''));
  for (const domain of domains) if (!DOMAIN.test(domain)) problems.push(`${at}: domains entry "${domain}" is not a domain name`);
  const tags = parseTags(fields['tags'], at, problems);
  if (zoneIds.length === 0 && domains.length === 0 && Object.keys(tags).length === 0) {
    problems.push(`${at}: selects no zone: give zoneIds, domains and/or tags`);
  }
  const includePublic = fields['includePublic'] ?? false;
  if (typeof includePublic !== 'boolean') problems.push(`${at}: includePublic must be true or false`);
  return {
    name,
    role: roleArn === undefined || account === undefined ? undefined : { arn: roleArn, account, externalId },
    zoneIds: [...new Set(zoneIds)],
    domains: [...new Set(domains)],
    tags,
    includePublic: includePublic === true,
  };
}

function optionalString(fields: Record<string, unknown>, key: string, at: string, problems: string[]): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  problems.push(`${at}: ${key} must be a non-empty string`);
  return undefined;
}

function stringList(fields: Record<string, unknown>, key: string, at: string, problems: string[]): string[] {
  const value = fields[key];
  if (value === undefined || value === null) return [];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string' && item.trim() !== '')) {
    return value.map((item: string) => item.trim());
  }
  problems.push(`${at}: ${key} must be a list of non-empty strings`);
  return [];
}

/** AWS tag rules: keys of 1-128 characters, values of 0-256; an empty value matches a tag whose value is empty. */
function parseTags(value: unknown, at: string, problems: string[]): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${at}: tags must be a mapping of tag key to value`);
    return {};
  }
  const tags: Record<string, string> = {};
  for (const [key, tagValue] of Object.entries(value)) {
    if (key.length < 1 || key.length > 128) problems.push(`${at}: tag key "${key}" is not 1-128 characters`);
    if (typeof tagValue !== 'string' || tagValue.length > 256) {
      problems.push(`${at}: tag "${key}" must have a string value of at most 256 characters (quote numbers and booleans)`);
      continue;
    }
    tags[key] = tagValue;
  }
  return tags;
}
