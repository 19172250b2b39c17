// More attacks on config reads answered in the sandbox process (runtime/sandbox/config-push.ts,
// child/config-snapshot.ts), by other ways to the same resource: calls running at once sharing one
// minute budget, a shared sandbox group (another plugin's values, a bystander's answers), and a
// secret that becomes known after a plugin's values were pushed. A real local host: the real host
// API, real sandbox processes, SQLite. Each attack runs with the server's answers as positive control.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import type { LocalSessionOptions } from '../../../runtime/local/local-session.ts';
import { probeConfigure as configure, writePlugin } from '../../helpers/plugin-fixture.ts';


const RUNNER = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
class Probe {
  async getFields(lang, code) {
    const run = new Function('config', 'return (async () => { ' + code + ' })()');
    return run(config);
  }
  async transfer() { return null; }
}
module.exports = Probe;`;

const READ = `const read = async (key) => { try { return { value: await config.get(key) }; } catch (e) { return { error: e.rule ?? e.message } }; };`;

const dirs: string[] = [];
const closing: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closing) await close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A host with plugins alpha (key alphaOnly) and beta (key betaOnly), each with its own mode. */
async function twoPlugins(sandbox: LocalSessionOptions['sandbox'] = {}, limits: LocalSessionOptions['hostCallLimits'] = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-cfgattack-'));
  dirs.push(dir);
  const local = await openLocalHost({ storeUrl: `sqlite:${path.join(dir, 'store.db')}`, sandbox, hostCallLimits: limits });
  closing.push(() => local.close());
  await local.load(writePlugin('alpha', { 'configure.js': configure('alphaOnly'), 'index.js': RUNNER }), { mode: 'alpha-mode', alphaOnly: 'alpha-value', apiSecret: 'alpha-secret-0123456789abcdef' });
  await local.load(writePlugin('beta', { 'configure.js': configure('betaOnly'), 'index.js': RUNNER }), { mode: 'beta-mode', betaOnly: 'beta-value', apiSecret: 'beta-secret-0123456789abcdef' });
  const run = async (key: string, code: string) => {
    const r = await local.sandbox.invoke(key, 'getFields', ['en', READ + code]);
    if (!r.ok) throw new Error(`${key} failed: ${r.error.kind}: ${r.error.message}`);
    return r.value as any;
  };
  return { local, run };
}

describe('the per-minute cap holds across calls running at once', () => {
  // Four calls start together; each waits until all four have started, then reads 6 times: 24
  // reads against a minute of 12. The server admits 12 of them whichever path answers.
  const FLOOD = `
    await new Promise((r) => setTimeout(r, 300));
    const out = []; for (let i = 0; i < 6; i++) out.push(await read('mode'));
    return out.filter((r) => 'value' in r).length;`;
  const answeredOf = async (h: Awaited<ReturnType<typeof twoPlugins>>) => {
    const counts = await Promise.all([0, 1, 2, 3].map(() => h.run('alpha', FLOOD)));
    return counts.reduce((a: number, b: number) => a + b, 0);
  };

  it('positive control: with the server answering every read, 12 of 24 are answered', async () => {
    expect(await answeredOf(await twoPlugins({ localConfigReads: false }, { hostCallsPerMinute: 12 }))).toBe(12);
  });

  it('with local answers, no more than 12 either: calls running at once share the minute (each used to be told all of it was left)', async () => {
    const answered = await answeredOf(await twoPlugins({}, { hostCallsPerMinute: 12 }));
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThanOrEqual(12);
  });
});

describe('a shared sandbox group: one plugin\'s values are never another\'s', () => {
  const group = { groups: { shared: ['alpha', 'beta'] } };

  it('beta reads its own mode, and alpha\'s key gets the server\'s refusal, as when it runs alone; alpha\'s answers are unchanged', async () => {
    const shared = await twoPlugins(group);
    const alone = await twoPlugins();
    expect(shared.local.sandbox.processOf('alpha')).toBe(shared.local.sandbox.processOf('beta'));
    // Positive control: alpha's values are held in that very process and answered to alpha.
    const probe = `return { mode: await read('mode'), mine: await read(${JSON.stringify('alphaOnly')}), other: await read('betaOnly') };`;
    const alphaBefore = await shared.run('alpha', probe);
    expect(alphaBefore).toEqual({ mode: { value: 'alpha-mode' }, mine: { value: 'alpha-value' }, other: { error: 'config.undeclared-key' } });
    const attack = `return { mode: await read('mode'), other: await read('alphaOnly'), mine: await read('betaOnly') };`;
    const sharedBeta = await shared.run('beta', attack);
    expect(sharedBeta).toEqual({ mode: { value: 'beta-mode' }, other: { error: 'config.undeclared-key' }, mine: { value: 'beta-value' } });
    expect(sharedBeta).toEqual(await alone.run('beta', attack));
    // The bystander: alpha, after beta's reads, answers as before.
    expect(await shared.run('alpha', probe)).toEqual(alphaBefore);
  });

  it('a write to beta\'s config is seen by beta\'s next call in the group, and alpha\'s values stay its own', async () => {
    const shared = await twoPlugins(group);
    await shared.run('alpha', `return await read('mode');`);
    await shared.run('beta', `return await read('mode');`);
    await shared.local.host.config.set('beta', 'mode', 'beta-changed');
    expect(await shared.run('beta', `return await read('mode');`)).toEqual({ value: 'beta-changed' });
    expect(await shared.run('alpha', `return await read('mode');`)).toEqual({ value: 'alpha-mode' });
  });
});

describe('a value that becomes a secret after it was pushed', () => {
  const answeredLocally = async (h: Awaited<ReturnType<typeof twoPlugins>>, callIdOf: string) => {
    await h.local.host.audit.flush();
    const rows = await h.local.store.queryAudit({ plugin: 'alpha', limit: 50 });
    return rows.filter((r) => r.callId === callIdOf).some((r) => r.summary.includes('answered in the sandbox process: key=alphaOnly'));
  };
  const readAlphaOnly = async (h: Awaited<ReturnType<typeof twoPlugins>>) => {
    const r = await h.local.sandbox.invoke('alpha', 'getFields', ['en', READ + `return await read('alphaOnly');`]);
    if (!r.ok) throw new Error(r.error.message);
    return { value: r.value, local: await answeredLocally(h, r.callId) };
  };
  const PASTED = 'pasted-credential-QWERTYUIOPzxcvbnm';

  it('another plugin\'s secret set to a value alpha shows: alpha\'s process stops answering it (the server does), from the very next call', async () => {
    const h = await twoPlugins();
    await h.local.host.config.set('alpha', 'alphaOnly', PASTED);
    expect(await readAlphaOnly(h)).toEqual({ value: { value: PASTED }, local: true });
    await h.local.host.config.set('beta', 'apiSecret', PASTED);
    // The server still answers alpha its own shown value, as before the feature; only the process no longer holds it.
    expect(await readAlphaOnly(h)).toEqual({ value: { value: PASTED }, local: false });
  });

  it('alpha\'s own secret pasted into its shown field in another encoding (base64, hex, URL-encoded) is not answered there either', async () => {
    const h = await twoPlugins();
    const secret = 'alpha-secret-0123456789abcdef';
    for (const encoded of [Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex'), encodeURIComponent(`${secret}/?&`)]) {
      await h.local.host.config.set('alpha', 'alphaOnly', encoded);
      expect(await readAlphaOnly(h), encoded).toMatchObject({ local: false });
    }
  });

  it('positive control: another plugin\'s secret set to anything else leaves alpha\'s answers local', async () => {
    const h = await twoPlugins();
    await h.local.host.config.set('alpha', 'alphaOnly', PASTED);
    expect(await readAlphaOnly(h)).toEqual({ value: { value: PASTED }, local: true });
    await h.local.host.config.set('beta', 'apiSecret', 'other-value-MNBVCXZlkjhgfdsa-9876');
    expect(await readAlphaOnly(h)).toEqual({ value: { value: PASTED }, local: true });
  });
});
