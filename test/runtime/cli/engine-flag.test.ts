// --engine on the commands that load a plugin, and PAYOUT_SANDBOX_ENGINE behind it: the plugin is
// loaded on the engine named; a name that is no engine is one line naming the engines, no stack.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = new URL('../../../runtime/cli/bin.js', import.meta.url).pathname;
// Loads on isolated-vm and is refused on quickjs for a real reason (it needs Intl while loading).
const V8_ONLY_PLUGIN = 'test/fixtures/plugins/intl-amounts';

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 60_000, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('--engine', () => {
  it('check loads the plugin on the engine named, and says which (positive control)', async () => {
    const r = await cli(['check', 'test/fixtures/plugins/minimal', '--engine', 'isolated-vm', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, key: 'minimal', engine: 'isolated-vm' });
    const text = await cli(['check', 'test/fixtures/plugins/minimal']);
    expect(text.stdout).toMatch(/loaded in \d+ ms on isolated-vm/);
  });

  it('a name that is no engine is one line naming the engines, from the flag or the environment', async () => {
    const flag = await cli(['check', 'test/fixtures/plugins/minimal', '--engine', 'v8']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toBe("error: --engine 'v8' is not an engine; use isolated-vm or quickjs\n");
    const env = await cli(['call', 'test/fixtures/plugins/minimal', 'getFields', '--args', '["en","CARDUAH"]'], { PAYOUT_SANDBOX_ENGINE: 'isolatedvm' });
    expect(env.code).toBe(1);
    expect(env.stderr).toBe("error: PAYOUT_SANDBOX_ENGINE 'isolatedvm' is not an engine; use isolated-vm or quickjs (did you mean isolated-vm?)\n");
    const trigger = await cli(['trigger', 'test/fixtures/plugins/minimal', '--engine', 'QuickJS ']);
    expect(trigger.code).toBe(1);
    expect(trigger.stderr).toBe("payout-sandbox trigger: --engine 'QuickJS ' is not an engine; use isolated-vm or quickjs (did you mean quickjs?)\n");
  });

  it('bench refuses an engine name that is none before measuring anything', async () => {
    const r = await cli(['bench', '--quick', '--engine', 'isolated-vm,v8']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: --engine 'v8' is not an engine; use isolated-vm or quickjs\n");
  });

  it('call runs the method on the engine named and reports it', async () => {
    const r = await cli(['call', 'test/fixtures/plugins/minimal', 'getFields', '--args', '["en","CARDUAH"]', '--json'], { PAYOUT_SANDBOX_ENGINE: 'isolated-vm' });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, engine: 'isolated-vm', result: [{ _id: 'card_number' }] });
  });

  it('check --engine quickjs says why a plugin does not load there; the same plugin loads on isolated-vm', async () => {
    const refused = await cli(['check', V8_ONLY_PLUGIN, '--engine', 'quickjs', '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, key: 'intl-amounts', error: { code: 'load_failed', message: expect.stringMatching(/'Intl' is not defined/) } });
    const loaded = await cli(['check', V8_ONLY_PLUGIN, '--engine', 'isolated-vm', '--json']);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(JSON.parse(loaded.stdout)).toMatchObject({ ok: true, key: 'intl-amounts', engine: 'isolated-vm' });
  });

  it('check and call run the plugin on quickjs', async () => {
    const check = await cli(['check', 'test/fixtures/plugins/minimal', '--engine', 'quickjs', '--json']);
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, engine: 'quickjs' });
    const call = await cli(['call', 'test/fixtures/plugins/minimal', 'getFields', '--args', '["en","CARDUAH"]', '--engine', 'quickjs', '--json']);
    expect(JSON.parse(call.stdout)).toMatchObject({ ok: true, engine: 'quickjs', result: [{ _id: 'card_number' }] });
  });
});
