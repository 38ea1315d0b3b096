// Fills the image's compile cache (NODE_COMPILE_CACHE) at build time, then proves a second start uses it. Run by the
// runtime image's own Node as the runtime user with the runtime's V8 flags: Node keys the cache directory by its
// version, the flags that change compiled code, and the uid, so a cache made any other way is never read.
// No shell: the runtime base (distroless) has none. Usage: node fill-compile-cache.ts CACHE_DIR BUNDLE [node flags...]
// The cache directory is given here, not in this process's environment, so this script's own code stays out of it.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [cacheDir, bundle, ...flags] = process.argv.slice(2);
if (cacheDir === undefined || bundle === undefined) throw new Error('usage: fill-compile-cache.ts CACHE_DIR BUNDLE [node flags...]');

// Without configuration the bundle loads every module, then exits 2 naming what is missing: a start with no side effect.
const CONFIG_EXIT = 2;
const start = () =>
  spawnSync(process.execPath, [...flags, bundle], {
    env: { ...process.env, NODE_COMPILE_CACHE: cacheDir, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
    encoding: 'utf8',
  });

for (const pass of ['fill', 'check']) {
  const { status, stderr } = start();
  if (status !== CONFIG_EXIT) throw new Error(`${pass}: the bundle exited ${status}, not ${CONFIG_EXIT}:\n${stderr}`);
  // Node's own diagnostics (NODE_DEBUG_NATIVE=COMPILE_CACHE) say whether V8 took the cached code of the bundle.
  const accepted = `V8 code cache for ESM ${pathToFileURL(resolve(bundle)).href} was accepted`;
  if (pass === 'check' && !stderr.includes(accepted)) throw new Error(`the compile cache was not used:\n${stderr}`);
}
