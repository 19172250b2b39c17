import { defineConfig } from 'vitest/config';

// isolated-vm must be loaded with --no-node-snapshot; forks (not threads) so each test file
// gets a real process whose flags we control, and so a V8 abort cannot take down the runner.
export default defineConfig({
  test: {
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Plugins' own tests too, so `npx vitest run plugins/<key>/test/plugin.test.ts` finds its file.
    include: ['test/**/*.test.ts', 'plugins/*/test/**/*.test.ts'],
    exclude: ['test/browser/**', 'node_modules/**'],
  },
});
