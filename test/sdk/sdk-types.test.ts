// payout-sandbox/sdk in an author's project: the values are the in-sandbox shim's own (one set of
// names), and the types check a real plugin — and catch the mistakes they exist for (reading a
// secret, signing with an undeclared key, a wrong transfer status).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as sdk from 'payout-sandbox/sdk';

const shim = createRequire(import.meta.url)('../../runtime/bundler/shims/sdk.cjs');
const repo = path.resolve('.');
const project = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-types-'));
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

describe('payout-sandbox/sdk values', () => {
  it('are the shim the sandbox runs, not a copy', () => {
    expect(sdk.ProviderRefused).toBe(shim.ProviderRefused);
    expect(sdk.OutcomeUnknown).toBe(shim.OutcomeUnknown);
    expect(sdk.SDK_PLUGIN_MARK).toBe(shim.MARK);
    const exported = Object.keys(shim).filter((k) => k !== 'createContext' && k !== 'MARK').sort();
    for (const name of exported) expect(Object.keys(sdk), name).toContain(name);
  });

  it('behave as the sandbox reads them: the marker, a definite refusal, an unknown outcome', () => {
    const plugin = sdk.definePayoutPlugin({ manifest: { title: 'T', currencies: ['CARDUAH'] }, fields: () => null, transfer: async () => ({ status: 'paid', reference: 'r' }) });
    expect((plugin as unknown as Record<string, unknown>)[sdk.SDK_PLUGIN_MARK]).toBe(true);
    expect(Object.isFrozen(plugin)).toBe(true);
    const refused = new sdk.ProviderRefused('no funds', { code: 1 });
    expect(refused).toMatchObject({ name: 'ProviderRefused', definite: true, message: 'no funds', details: { code: 1 } });
    expect(refused).toBeInstanceOf(Error);
    expect(new sdk.OutcomeUnknown('?')).toMatchObject({ name: 'OutcomeUnknown' });
    expect(() => sdk.definePayoutPlugin(null as never)).toThrow(/definePayoutPlugin needs an object/);
  });
});

const NEGATIVE = `
import { definePayoutPlugin } from 'payout-sandbox/sdk';
export default definePayoutPlugin({
  manifest: { title: 'Neg', currencies: ['CARDUAH'], config: { apiUrl: {}, token: { secret: true } } },
  fields: () => null,
  async transfer(ctx, order) {
    await ctx.config.get('token'); // @expect TS2345 a secret cannot be read
    await ctx.http.get('https://x.example', { auth: { bearer: 'missing' } }); // @expect TS2322 undeclared key
    await ctx.http.get('https://x.example', { sign: { key: 'token', header: 'x-sign', parts: ['body', 'nonsense'] } }); // @expect TS2322 unknown sign part
    const n: number = order.outAmount; // @expect TS2322 amounts are decimal strings
    return { status: 'accepted', reference: 'r' };
  },
});
export const wrongStatus = definePayoutPlugin({
  manifest: { title: 'Neg2', currencies: ['CARDUAH'] },
  fields: () => null,
  transfer: async () => ({ status: 'done', reference: 'r' }), // @expect TS2322 paid | accepted
});
`;

describe('payout-sandbox/sdk types in an author project', () => {
  it('type-check the example plugin, the kit, and a fake provider script; refuse the mistakes', () => {
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'author-project', private: true, type: 'module' }));
    fs.mkdirSync(path.join(project, 'node_modules'));
    fs.symlinkSync(repo, path.join(project, 'node_modules', 'payout-sandbox'));
    for (const dep of ['@types', 'vitest']) fs.symlinkSync(path.join(repo, 'node_modules', dep), path.join(project, 'node_modules', dep));
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'es2024', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2024'], types: ['node'], strict: true,
        noEmit: true, allowImportingTsExtensions: true, verbatimModuleSyntax: true, skipLibCheck: true,
      },
      include: ['src/**/*.ts'],
    }));
    fs.mkdirSync(path.join(project, 'src', 'billpay'), { recursive: true });
    fs.copyFileSync(path.join(repo, 'plugins', 'billpay', 'plugin.ts'), path.join(project, 'src', 'billpay', 'plugin.ts'));
    fs.copyFileSync(path.join(repo, 'runtime', 'cli', 'scaffold', 'fake-provider.ts.tmpl'), path.join(project, 'src', 'fake-provider.ts'));
    fs.writeFileSync(path.join(project, 'src', 'kit.ts'), [
      "import { startPluginTestKit } from 'payout-sandbox/sdk/testkit';",
      "import type { PayoutConfigFactory, PlatformPluginClass, CallbacksModule } from 'payout-sandbox/sdk/platform';",
      "import script from './fake-provider.ts';",
      "export async function run(): Promise<string> {",
      "  const kit = await startPluginTestKit({ dir: 'x', provider: script, config: { a: '1' }, grants: ['http://127.0.0.1:1'] });",
      "  const p = await kit.payout({ amount: '1', values: { card_number: '1' } });",
      "  await kit.close();",
      "  return p.order.status;",
      "}",
      'export type Platform = [PayoutConfigFactory, PlatformPluginClass, CallbacksModule];',
    ].join('\n'));
    fs.writeFileSync(path.join(project, 'src', 'negative.ts'), NEGATIVE);

    const tsc = spawnSync(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors.filter((l) => !l.startsWith('src/negative.ts')), tsc.stdout).toEqual([]);
    const lines = NEGATIVE.split('\n');
    const expected = lines.map((l, i) => [i + 1, /@expect (TS\d+)/.exec(l)?.[1]] as const).filter(([, code]) => code);
    const got = errors.map((l) => /^src\/negative\.ts\((\d+),\d+\): error (TS\d+)/.exec(l)).filter(Boolean).map((m) => [Number(m![1]), m![2]] as const);
    expect([...new Set(got.map(([line]) => line))].sort((a, b) => a - b), tsc.stdout).toEqual(expected.map(([line]) => line));
    for (const [line, code] of expected) expect(got, `line ${line}`).toContainEqual([line, code]);
  }, 130_000);
});
