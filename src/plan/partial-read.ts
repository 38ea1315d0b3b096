/**
 * Partial reads: one poll over many zones where some could not be read. Pure: the caller keeps `lastRead`.
 *
 * - Endpoints of zones read in full count as read, so new ones are added at once.
 * - A published endpoint that belongs to a zone that failed counts as read too: it is kept as it is and no removal
 *   of it is confirmed by this poll. Only zones read in full can make an endpoint go missing.
 * - Which zone an endpoint belongs to: the zones whose last full read (kept in memory) held it; an endpoint no read
 *   since start has seen belongs to every zone whose name it ends with. When a failed zone's name is unknown too (its
 *   source could not list its zones), every published endpoint not read counts as belonging to it.
 * - The empty-read and removal rules (`applyPoll`) then run on the result across the whole set, as for a full read:
 *   a poll whose healthy zones hold nothing is an empty read, whatever the failed zones kept.
 * - A poll in which no zone was read is a failed poll, as before: nothing changes.
 */
export type ZoneRead =
  { zone: string; name: string | undefined; ok: true; hosts: readonly string[] } | { zone: string; name: string | undefined; ok: false };

export interface PartialReadInput {
  /** What is published now (the desired set the last poll left). */
  published: readonly string[];
  /** Every zone this poll should have read. */
  zones: readonly ZoneRead[];
  /** Sources whose zones are unknown this poll (listing them failed and no earlier listing is known). */
  unlistedSources: readonly string[];
  /** The hosts of each zone's last full read. */
  lastRead: ReadonlyMap<string, readonly string[]>;
}

export type PartialReadVerdict =
  | { kind: 'nothing-read' }
  | {
      kind: 'read';
      /** What to treat as this poll's read: the hosts of zones read in full plus the kept ones; [] for an empty read. */
      hosts: string[];
      /** Published hosts kept because their zone failed. */
      kept: string[];
      failedZones: string[];
      /** The memory for the next poll: zones read in full replaced, failed ones kept, zones no longer listed dropped. */
      lastRead: Map<string, readonly string[]>;
    };

export function applyPartialRead(input: PartialReadInput): PartialReadVerdict {
  const read = input.zones.filter((zone) => zone.ok);
  const failed = input.zones.filter((zone) => !zone.ok);
  if (read.length === 0 && (failed.length > 0 || input.unlistedSources.length > 0)) return { kind: 'nothing-read' };

  const lastRead = new Map<string, readonly string[]>();
  const readHosts = new Set<string>();
  for (const zone of read) {
    lastRead.set(zone.zone, zone.hosts);
    for (const host of zone.hosts) readHosts.add(host);
  }
  for (const zone of failed) {
    const previous = input.lastRead.get(zone.zone);
    if (previous !== undefined) lastRead.set(zone.zone, previous);
  }

  const owners = zonesByHost(input.lastRead);
  const unattributable =
    input.unlistedSources.length > 0 || failed.some((zone) => zone.name === undefined && !input.lastRead.has(zone.zone));
  const belongsToFailed = (host: string): boolean => {
    if (unattributable) return true;
    const seenIn = owners.get(host);
    if (seenIn !== undefined) return failed.some((zone) => seenIn.has(zone.zone));
    return failed.some((zone) => zone.name !== undefined && isUnder(host, zone.name));
  };
  const kept = input.published.filter((host) => !readHosts.has(host) && belongsToFailed(host)).sort();
  const hosts = readHosts.size === 0 ? [] : [...new Set([...readHosts, ...kept])].sort();
  return { kind: 'read', hosts, kept, failedZones: failed.map((zone) => zone.zone).sort(), lastRead };
}

function zonesByHost(lastRead: ReadonlyMap<string, readonly string[]>): Map<string, Set<string>> {
  const owners = new Map<string, Set<string>>();
  for (const [zone, hosts] of lastRead) {
    for (const host of hosts) {
      const zones = owners.get(host) ?? new Set<string>();
      zones.add(zone);
      owners.set(host, zones);
    }
  }
  return owners;
}

/** `host` is the zone's apex or a name below it (labels compared whole, case and a trailing dot ignored). */
export function isUnder(host: string, zoneName: string): boolean {
  const name = zoneName.toLowerCase().replace(/\.$/, '');
  const candidate = host.toLowerCase().replace(/\.$/, '');
  return candidate === name || candidate.endsWith(`.${name}`);
}
