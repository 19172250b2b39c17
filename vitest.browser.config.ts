import { defineConfig } from 'vitest/config';

// Browser tests: a real server (isolated-vm, hence --no-node-snapshot and forks) and Debian's
// chromium through playwright-core. One file at a time: each starts a server and a browser.
export default defineConfig({
  test: {
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    include: ['test/browser/**/*.test.ts'],
  },
});
