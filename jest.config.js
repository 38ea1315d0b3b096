// Three projects: `unit` (pure logic and fakes at the client boundary, fast, run in parallel), `integration` (the real
// peers: kube-apiserver + etcd, moto, a webhook receiver; one file at a time, they are heavy on 2 cores) and `cluster`
// (the chart, the image and Thanos as pods under a real kubelet, test/peers/node.ts; one file at a time too).
import { createDefaultEsmPreset } from 'ts-jest';

const esm = {
  ...createDefaultEsmPreset({ tsconfig: 'tsconfig.json' }),
  // tsconfig's rewriteRelativeImportExtensions turns `./x.ts` into `./x.js` in the transpiled output.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

/** @type {import('jest').Config} */
export default {
  projects: [
    { ...esm, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...esm,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/peers/global-setup.ts',
      // The peers are heavy for 2 cores: one test file at a time keeps timings honest.
      runner: '<rootDir>/test/serial-runner.js',
    },
    {
      ...esm,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
      globalSetup: '<rootDir>/test/peers/global-setup.ts',
      runner: '<rootDir>/test/serial-runner.js',
    },
  ],
  // Workers for the unit project; the integration project's runner stays serial.
  maxWorkers: 2,
  testTimeout: 120_000,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
