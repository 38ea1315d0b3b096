// Jest globalSetup of the integration project: builds every real peer once before any test file runs, so a test
// never starts a multi-minute build under its own timeout, and a peer that cannot be built fails the run by name.
//
// Jest transpiles this file and rewrites its static relative imports to `.js`, which do not exist outside jest's
// module registry; so the harness is imported by a computed URL and loaded by Node itself (type stripping).
type Binaries = typeof import('./binaries.ts');

export default async function globalSetup(): Promise<void> {
  const { PEER_NAMES, resolvePeerBinaries }: Binaries = await import(new URL('binaries.ts', import.meta.url).href);
  process.stderr.write(`\n[peers] making sure ${PEER_NAMES.join(', ')} are built (the first run builds them from source: minutes)\n`);
  const started = Date.now();
  await resolvePeerBinaries(PEER_NAMES, { onLog: (line) => process.stderr.write(`${line}\n`) });
  process.stderr.write(`[peers] ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
