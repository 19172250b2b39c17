// What the server pushes to a plugin's sandbox process (host-api/config-snapshot.ts): never a
// secret. Attacked end to end — every frame the server writes to the sandbox process is captured
// and searched for the secret in several encodings, while the plugin reads its shown keys — and
// piece by piece: sealed entries, secrets pasted into shown fields, plugins without config.get.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FramedChannel } from '../../runtime/sandbox/channel.ts';
import { openLocalHost } from '../../runtime/local/local-session.ts';
import type { LocalHost } from '../../runtime/local/local-session.ts';
import { checkedReadStats } from '../../host-api/config-snapshot.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';

const CONFIGURE = `
module.exports.type = 'payout';
module.exports.title = 'Keeper';
module.exports.name = 'keeper';
module.exports.required_npm = [];
module.exports.allow_XML = ['CARDUAH'];
module.exports.default_config = { apiUrl: 'https://api.keeper.example', mode: 'live', apiSecret: '' };
module.exports.required_config = { apiUrl: 1, mode: 1, apiSecret: 2, legacy: 1 };
`;

const INDEX = `
const config = require('../../../modules/config/payout.config.js')('keeper');
class Keeper {
  async getFields(lang, keys) {
    const out = {};
    for (const key of keys.split(',')) { try { out[key] = await config.get(key); } catch (e) { out[key] = 'error: ' + e.rule; } }
    return out;
  }
  async transfer() { return null; }
}
module.exports = Keeper;`;

const SECRET = 'keeper-secret-Zq81-value-0123456789';

/** The secret as it could travel: plain, JSON-escaped, base64 (both alphabets), hex, URL-encoded, halves. */
function encodings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [
    secret, JSON.stringify(secret).slice(1, -1), [...secret].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
    bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex'), encodeURIComponent(secret),
    secret.slice(0, secret.length / 2), secret.slice(secret.length / 2),
  ];
}

/** Every frame the server sends to a sandbox process while `fn` runs, as text and as raw UTF-8. */
async function framesDuring(fn: () => Promise<void>): Promise<{ kinds: string[]; text: string }> {
  const original = FramedChannel.prototype.send;
  const seen: unknown[] = [];
  FramedChannel.prototype.send = function send(this: FramedChannel<unknown, unknown>, message: unknown) {
    seen.push(message);
    return original.call(this, message);
  } as typeof original;
  try {
    await fn();
  } finally {
    FramedChannel.prototype.send = original;
  }
  const text = seen.map((m) => JSON.stringify(m)).join('\n');
  return { kinds: seen.map((m) => (m as { t: string }).t), text: text + Buffer.from(text, 'utf8').toString('latin1') };
}

const found = (text: string, secret: string) => encodings(secret).filter((e) => text.includes(e));

describe('a secret is never pushed to the sandbox process', () => {
  let local: LocalHost;
  let dir: string;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-cfgsnap-'));
    local = await openLocalHost({ storeUrl: `sqlite:${path.join(dir, 'store.db')}` });
    await local.load(writePlugin('keeper', { 'configure.js': CONFIGURE, 'index.js': INDEX }), { mode: 'test', apiSecret: SECRET });
  });
  afterEach(async () => {
    await local.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads of shown keys: values pushed and answered, the secret in no frame in any encoding; a secret read still goes to the server', async () => {
    const shown = await framesDuring(async () => {
      const r = await local.sandbox.invoke('keeper', 'getFields', ['en', 'apiUrl,mode,mode']);
      expect(r.ok && r.value).toEqual({ apiUrl: 'https://api.keeper.example', mode: 'test' });
    });
    expect(shown.kinds).toContain('config'); // the push happened in the frames inspected
    expect(shown.text).toContain('https://api.keeper.example');
    expect(found(shown.text, SECRET)).toEqual([]);
    expect(shown.kinds).not.toContain('hostResult'); // answered in the process: no round trip

    // Positive control: the plugin reads its secret; the server answers it (as before), so the
    // inspection sees it in a hostResult frame, and the read is audited by the server.
    const secretRead = await framesDuring(async () => {
      const r = await local.sandbox.invoke('keeper', 'getFields', ['en', 'apiSecret']);
      expect(r.ok).toBe(true); // its result is scrubbed of the secret on the way out, as always
    });
    expect(secretRead.kinds).toContain('hostResult');
    expect(found(secretRead.text, SECRET).length).toBeGreaterThan(0);
    await local.host.audit.flush();
    const audit = await local.store.queryAudit({ plugin: 'keeper', limit: 50 });
    expect(audit.some((a) => a.capability === 'config.get' && a.summary === 'getFields: key=apiSecret')).toBe(true);
  });

  it('a secret pasted into a shown field is not pushed: that key is read from the server', async () => {
    await local.host.config.set('keeper', 'mode', `prefix ${SECRET}`);
    const frames = await framesDuring(async () => {
      const r = await local.sandbox.invoke('keeper', 'getFields', ['en', 'apiUrl']);
      expect(r.ok && r.value).toEqual({ apiUrl: 'https://api.keeper.example' });
    });
    const pushed = frames.text.split('\n').filter((f) => f.startsWith('{"t":"config"'));
    expect(pushed.length).toBeGreaterThan(0);
    expect(found(pushed.join('\n'), SECRET)).toEqual([]);
    expect(pushed.at(-1)).not.toContain('"mode"');
    expect(await local.host.config.shownValues('keeper')).toEqual({ apiUrl: 'https://api.keeper.example', legacy: null });
  });

  it('a value the store keeps sealed under a key now declared shown is not pushed', async () => {
    await local.store.setConfig({ plugin: 'keeper', key: 'legacy', secret: true, value: 'sealed-envelope-text' });
    await local.host.config.set('keeper', 'mode', 'after'); // any write bumps the version
    const values = await local.host.config.shownValues('keeper');
    expect(values).toEqual({ apiUrl: 'https://api.keeper.example', mode: 'after' });
    // Positive control: written as a shown value, the same key is pushed.
    await local.host.config.set('keeper', 'legacy', 'plain');
    expect(await local.host.config.shownValues('keeper')).toMatchObject({ legacy: 'plain' });
  });

  it('a plugin whose capability set lacks config.get gets nothing pushed; with it, the values', async () => {
    const snapshots = local.host.api.configSnapshots;
    expect(await snapshots?.snapshotOf('keeper')).toMatchObject({ values: { mode: 'test' } });
    const set = local.capabilitySets.capabilitySetOf('keeper');
    expect(set?.capabilities.has('config.get')).toBe(true);
    (set?.capabilities as Set<string>).delete('config.get');
    expect(await snapshots?.snapshotOf('keeper')).toBeNull();
    expect(await snapshots?.snapshotOf('nobody')).toBeNull();
  });
});

describe('the server believes of a sandbox process\'s report only what it could have read', () => {
  it('keeps shown keys and whole positive counts; drops secrets, unknown keys, values and junk', () => {
    const shown = new Set(['mode', 'apiUrl']);
    expect(checkedReadStats({ keys: { mode: 3, apiSecret: 1, 'x\ny': 2, apiUrl: -1 }, bytes: 120, refused: { 'host.calls-per-call': 2, 'made.up': 5 } }, shown))
      .toEqual({ keys: { mode: 3 }, bytes: 120, refused: { 'host.calls-per-call': 2 } });
    expect(checkedReadStats({ keys: { mode: 'value' }, bytes: 1.5, refused: 'x' }, shown)).toEqual({ keys: {}, bytes: 0, refused: {} });
    expect(checkedReadStats(null, shown)).toEqual({ keys: {}, bytes: 0, refused: {} });
  });
});

