// Builds the single-file bundle the image runs (`node main.mjs`, no node_modules): everything the controller imports,
// in one ES module. One file loads faster and holds less than node_modules' thousands of modules (measured in
// bench/results/real-peers.json and the README's resources section).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/main.js',
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
});
