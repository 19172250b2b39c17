import { defineConfig } from 'vitest/config';

// The conformance matrix (design.md §5): these suites run once per engine, the engine a parameter
// (PAYOUT_SANDBOX_ENGINE, test/helpers/engine.ts), never a copy. The isolated-vm project runs
// every suite; the quickjs project runs the ones that load plugins: the sandbox core, the hostile
// corpus, the example plugins (directly and through the test kit), the payout flow end to end with
// its sweep, the cron jobs, the webhooks, and the host API as plugins reach it. Left out, with
// reasons in README.md ("Engine conformance"): V8-only hardening and the crash-injection runs (a
// server process per kill).
const ENGINE_MATRIX = [
  'test/runtime/sandbox/test-engine.test.ts',
  'test/runtime/sandbox/isolation.test.ts',
  'test/runtime/sandbox/child/library-script.test.ts',
  'test/runtime/sandbox/child/sandbox-process.test.ts',
  'test/runtime/sandbox/sandbox-host.test.ts',
  'test/runtime/sandbox/overload.test.ts',
  'test/runtime/sandbox/prelude/bridge.test.ts',
  'test/security/security.test.ts',
  'test/security/engine-hardening.test.ts',
  'test/plugins/billpay.test.ts',
  'test/runtime/sdk/sdk-format.test.ts',
  'test/runtime/server/e2e-payout.test.ts',
  'test/runtime/payouts/in-flight-request.test.ts',
  'test/host-api/http/*.test.ts',
  'test/runtime/ipn/*.test.ts',
  'test/runtime/payouts/paused-plugin-server.test.ts',
  'test/runtime/server/payout-admin.test.ts',
  'test/runtime/server/noisy-neighbour.test.ts',
  'test/runtime/cron/scheduler.test.ts',
  'test/host-api/payout-txs-cron.test.ts',
  'test/runtime/server/payout-call.test.ts',
  'test/runtime/server/routes/payout-call-queue.test.ts',
  'test/sdk/testkit.test.ts',
  'test/sdk/testkit-webhook-verify.test.ts',
  'test/host-api/policy.test.ts',
  'test/host-api/config-snapshot.test.ts',
  'test/host-api/host-call-caps.test.ts',
  'test/runtime/sandbox/config-push.test.ts',
  'test/runtime/sandbox/config-same-entry.test.ts',
  'test/runtime/sandbox/child/call-book-after-settle.test.ts',
  'test/runtime/sandbox/call-trace.test.ts',
  'test/runtime/server/host-call-caps.test.ts',
  'test/runtime/sandbox/host-call-flood-memory.test.ts',
  'test/runtime/sandbox/crash-attribution-group.test.ts',
];

// isolated-vm must be loaded with --no-node-snapshot; forks (not threads) so each test file
// gets a real process whose flags we control, and so a V8 abort cannot take down the runner.
export default defineConfig({
  test: {
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'isolated-vm',
          // Plugins' own tests too, so `npx vitest run plugins/<key>/test/plugin.test.ts` finds its file.
          include: ['test/**/*.test.ts', 'plugins/*/test/**/*.test.ts'],
          exclude: ['test/browser/**', 'node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'quickjs',
          include: ENGINE_MATRIX,
          env: { PAYOUT_SANDBOX_ENGINE: 'quickjs' },
          setupFiles: ['test/helpers/engine-setup.ts'],
        },
      },
    ],
  },
});
