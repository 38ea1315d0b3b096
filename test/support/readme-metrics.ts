// The README's metric table is the contract users read; tests check the controller against it row by row.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
export const METRIC_PREFIX = 'thanos_store_discovery_';

export interface DocumentedMetric {
  /** Full name, prefix included. */
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  labels: string[];
}

/** Rows of the table under "## Metrics": | `name` | type | `label`, `label` | meaning |. */
export async function documentedMetrics(): Promise<DocumentedMetric[]> {
  const text = await readFile(README, 'utf8');
  const section = text.slice(text.indexOf('\n## Metrics\n'), text.indexOf('\n## ', text.indexOf('\n## Metrics\n') + 1));
  const rows = section.split('\n').filter((line) => /^\| `[a-z_]+` \|/.test(line));
  if (rows.length === 0) throw new Error('README.md has no metric table under "## Metrics"');
  return rows.map((row) => {
    const [name = '', type = '', labels = ''] = row
      .split('|')
      .slice(1)
      .map((cell) => cell.trim());
    if (type !== 'counter' && type !== 'gauge' && type !== 'histogram') throw new Error(`README metric row with unknown type: ${row}`);
    return {
      name: METRIC_PREFIX + name.replaceAll('`', ''),
      type,
      labels: [...labels.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]!).sort(),
    };
  });
}
