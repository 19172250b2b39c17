// The sandbox process is not a crash boundary the plugin can defeat: a hung or dead process is
// killed, restarted, and every call in flight fails with a clear error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { registerDir, startSandbox } from '../../helpers/sandbox.ts';

let host: SandboxHost;

beforeAll(async () => {
  ({ host } = await startSandbox({ limits: { cpuMsPerCall: 200, wallMsPerCall: 2000 }, supervisor: { graceMs: 300 }, breaker: { threshold: 3, cooldownMs: 60_000 } }));
  expect((await registerDir(host, writePlugin('steady', {}))).ok).toBe(true);
  expect((await registerDir(host, writePlugin('waits', {
    'index.js': `module.exports = class { async getFields() { await new Promise((r) => setTimeout(r, 400)); return 'waited'; } };`,
  }))).ok).toBe(true);
  expect((await registerDir(host, writePlugin('spins', { 'index.js': `module.exports = class { async getFields() { for (;;) {} } };` }))).ok).toBe(true);
});
afterAll(async () => {
  await host.close();
});

const processOf = (key: string) => host.processOf(key)!;

describe('supervisor', () => {
  it('a sandbox process killed mid-call fails that call clearly, restarts, and reloads plugins on demand', async () => {
    const pid = processOf('waits').pid as number;
    const inFlight = host.invoke('waits', 'getFields', []);
    await new Promise((r) => setTimeout(r, 100));
    process.kill(pid, 'SIGKILL');
    const r = await inFlight;
    expect(r).toMatchObject({ ok: false, error: { kind: 'sandbox_crashed' } });
    if (!r.ok) expect(r.error.message).toMatch(/waits\.getFields failed: sandbox process exited unexpectedly \(signal SIGKILL\)/);
    const next = await host.invoke('waits', 'getFields', ['en', 'X']);
    expect(next.ok).toBe(true);
    expect(processOf('waits').pid).not.toBe(pid);
    expect(processOf('waits').restarts).toBeGreaterThanOrEqual(1);
  });

  it('the watchdog SIGKILLs a sandbox process that stops answering, and the host keeps serving', async () => {
    await host.invoke('steady', 'getFields', []);
    const pid = processOf('steady').pid as number;
    process.kill(pid, 'SIGSTOP'); // a hang no timeout inside the process can end
    const started = Date.now();
    const r = await host.invoke('steady', 'getFields', [], { wallMs: 300 });
    expect(r).toMatchObject({ ok: false, error: { kind: 'sandbox_crashed' } });
    if (!r.ok) expect(r.error.message).toMatch(/watchdog killed the sandbox process/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550); // deadline 300 + grace 300, minus timer slack
    expect((await host.invoke('steady', 'getFields', [])).ok).toBe(true);
    expect(processOf('steady').pid).not.toBe(pid);
  });

  it('opens the circuit breaker after repeated faults, for that plugin only', async () => {
    // Three charged faults open it. A cut on a machine too busy to give the plugin a fifth of a
    // core is not charged (overload.test.ts), so it may take a few more calls, never fewer.
    let refused = await host.invoke('spins', 'getFields', []);
    for (let i = 0; i < 15 && !(!refused.ok && refused.error.kind === 'circuit_open'); i++) {
      expect(refused).toMatchObject({ ok: false, error: { kind: 'cpu_limit' } });
      refused = await host.invoke('spins', 'getFields', []);
    }
    expect(refused).toMatchObject({ ok: false, error: { kind: 'circuit_open' } });
    if (!refused.ok) expect(refused.error.message).toMatch(/paused after repeated faults \(last: cpu_limit/);
    expect(host.health().plugins.spins.state).toBe('open');
    expect((await host.invoke('steady', 'getFields', [])).ok).toBe(true);
    host.resetBreaker('spins');
    expect(host.health().plugins.spins.state).toBe('closed');
  });
});
