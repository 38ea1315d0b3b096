import type { BuildOptions } from 'esbuild';

/**
 * How the controller is bundled (scripts/build.ts), shared with bench/import-cost.ts so its figures are for bundles
 * made the same way: one ES module for Node 24, everything imported inlined.
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // Whitespace and syntax only: identifiers keep their names, so class names in errors and logs stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  // Some bundled CommonJS packages call require() for Node built-ins, which an ES module does not define.
  banner: { js: "import { createRequire as __tsdCreateRequire } from 'node:module'; const require = __tsdCreateRequire(import.meta.url);" },
  logLevel: 'warning',
} satisfies BuildOptions;
