import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));

/**
 * Where a test writes the figures it measured: bench/results/ when TSD_RECORD_RESULTS=1 (a run meant to update
 * the published figures), else a directory under the OS temp dir, so an ordinary run leaves the checkout clean.
 */
export async function resultsPath(name: string): Promise<string> {
  const dir = process.env['TSD_RECORD_RESULTS'] === '1' ? BENCH_RESULTS : join(tmpdir(), 'thanos-store-discovery-results');
  await mkdir(dir, { recursive: true });
  return join(dir, name);
}
