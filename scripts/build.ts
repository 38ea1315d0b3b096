// Builds the single-file bundle the image runs (`node main.mjs`, no node_modules): everything the controller imports,
// in one ES module. One file loads faster and holds less than node_modules' thousands of modules (measured in
// bench/results/real-peers.json and the README's resources section).
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from './bundle-options.ts';

await build({ ...BUNDLE_OPTIONS, entryPoints: ['src/main.ts'], outfile: 'dist/main.js' });
