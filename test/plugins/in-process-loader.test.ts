// The in-process loader (benchmark baseline) on a throw-away plugin laid out as on the platform:
// <root>/pluginsExternal/payouts/<key>/.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadPlatformPlugin } from '../../bench/in-process/load-platform-plugin.ts';

const CONFIGURE = `module.exports = { type: 'payout', title: 'Probe', name: 'Probe', required_npm: [], allow_XML: ['BTC'],
  default_config: { apiKey: 'default-key' }, required_config: { apiKey: 1 } };`;

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function writeProbePlugin(indexSource: string, extraFiles: Record<string, string> = {}): string {
  const root = mkdtempSync(path.join(tmpdir(), 'payout-probe-'));
  roots.push(root);
  const dir = path.join(root, 'pluginsExternal', 'payouts', 'probe');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'configure.js'), CONFIGURE);
  writeFileSync(path.join(dir, 'index.js'), indexSource);
  for (const [name, source] of Object.entries(extraFiles)) writeFileSync(path.join(dir, name), source);
  return dir;
}

describe('in-process loader', () => {
  it('refuses modules the sandbox refuses, naming the module and the file', () => {
    const dir = writeProbePlugin(`const fs = require('fs'); module.exports = class {};`);
    expect(() => loadPlatformPlugin({ pluginDir: dir })).toThrow(/module 'fs' \(required from index\.js\)/);
  });

  it('refuses platform paths it does not know', () => {
    const dir = writeProbePlugin(`require('../../../modules/secrets.js'); module.exports = class {};`);
    expect(() => loadPlatformPlugin({ pluginDir: dir })).toThrow(/not a platform module/);
  });

  it('gives the plugin its own config, a frozen env and nothing of the real process.env', async () => {
    const dir = writeProbePlugin(`
      const config = require('../../../modules/config/payout.config.js')(__dirname.split('/').slice(-1)[0]);
      module.exports = class {
        async getFields() {
          let writeRefused = false;
          try { process.env.API_URL = 'changed'; } catch { writeRefused = true; }
          return { key: await config.get('apiKey'), apiUrl: process.env.API_URL, home: process.env.HOME, writeRefused };
        }
        async transfer() { return require('../../../modules/config/payout.config.js')('someone-else'); }
      };`);
    const loaded = loadPlatformPlugin({ pluginDir: dir, env: { API_URL: 'http://127.0.0.1:3000/' } });
    expect(await loaded.plugin.getFields('en', 'BTC')).toEqual({ key: 'default-key', apiUrl: 'http://127.0.0.1:3000/', home: undefined, writeRefused: true });
    await expect(loaded.plugin.transfer({})).rejects.toThrow(/asked for the config of someone-else/);
  });

  it('supports the OrderPayoutTxs query forms platform plugins use', async () => {
    const dir = writeProbePlugin(`
      const db = require('../../../db');
      module.exports = class {
        async getFields() {
          const old = await db.OrderPayoutTxs.find({ active: true, createdAt: { $lt: new Date(Date.now() - 60000) } }).select({ transaction: 1 }).lean();
          const one = await db.OrderPayoutTxs.findOne({ transaction: 't-new' }).populate({ path: 'order', select: '_id uid status' });
          const count = await db.OrderPayoutTxs.countDocuments({ payoutModule: 'probe' });
          await db.OrderPayoutTxs.updateOne({ _id: one._id }, { $set: { active: false } });
          return { old, one, count };
        }
        async transfer() {}
      };`);
    const loaded = loadPlatformPlugin({ pluginDir: dir });
    const order = loaded.db.addOrder({ uid: 7, status: 'inProgressPayout', outAmount: '1.5', ipnSecret: 'not-for-plugins' });
    const oldTx = loaded.db.addPayoutTx({ order: order._id, transaction: 't-old', payoutModule: 'probe', createdAt: new Date(Date.now() - 3_600_000) });
    const newTx = loaded.db.addPayoutTx({ order: order._id, transaction: 't-new', payoutModule: 'probe' });

    const { old, one, count } = (await loaded.plugin.getFields('en', 'BTC')) as Record<string, any>;
    expect(old).toEqual([{ _id: oldTx._id, transaction: 't-old' }]);
    expect(one.order).toEqual({ _id: order._id, uid: 7, status: 'inProgressPayout' });
    expect(count).toBe(2);
    expect(loaded.db.payoutTxs.find((row) => row._id === newTx._id)?.active).toBe(false);
    expect(loaded.db.operations).toEqual(['find', 'findOne', 'countDocuments', 'updateOne']);
  });

  it('loads sibling files once and shares them between index.js and callback.js', async () => {
    const dir = writeProbePlugin(`const shared = require('./shared'); module.exports = class { async getFields() { return shared.hits; } async transfer() {} };`, {
      'shared.js': `module.exports = { hits: 0 };`,
      'callback.js': `const shared = require('./shared.js'); module.exports = { final: async (req, res) => { shared.hits++; res.writeHead(200); res.end('ok'); } };`,
    });
    const loaded = loadPlatformPlugin({ pluginDir: dir });
    expect(await loaded.call('final', { method: 'POST' })).toMatchObject({ status: 200, body: 'ok' });
    expect(await loaded.plugin.getFields('en', 'BTC')).toBe(1);
    expect(loaded.filesLoaded).toEqual(['configure.js', 'index.js', 'shared.js', 'callback.js']);
  });
});
