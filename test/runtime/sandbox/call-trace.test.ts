// Traced calls (InvokeOptions.trace, bench --trace): both processes mark where a call's time goes,
// in order; an untraced call carries no marks; marks are labels and times, never a value the
// call saw; a config read answered in the sandbox process crosses nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import type { LocalHost } from '../../../runtime/local/local-session.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';

const SECRET = 'trace-secret-value-0123456789';
const SHOWN = 'trace-shown-value';
const INDEX = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
class Traced {
  async getFields(lang, what) {
    if (what === 'secret') return [{ _id: 'x', name: String((await config.get('apiSecret')).length) }];
    if (what === 'shown') return [{ _id: 'x', name: await config.get('apiKey') }];
    return [];
  }
  async transfer() { return null; }
}
module.exports = Traced;`;

const SERVER_LABELS = new Set(['start', 'send', 'hostArrive', 'hostAnswer', 'replyArrive', 'done']);
const SANDBOX_LABELS = new Set(['arrive', 'enter', 'hostOut', 'hostIn', 'resumed', 'result', 'reply']);

let local: LocalHost;
beforeAll(async () => {
  local = await openLocalHost({ storeUrl: 'sqlite::memory:' });
  await local.load(writePlugin('traced', { 'index.js': INDEX }), { apiKey: SHOWN, apiSecret: SECRET });
});
afterAll(async () => { await local.close(); });

const labels = (marks: [string, number][]) => marks.map((m) => m[0]);
const inOrder = (marks: [string, number][]) => marks.every((m, i) => i === 0 || m[1] >= marks[i - 1][1]);

describe('traced calls', () => {
  it('a call with one host call to the server: each process marks its side, in order, and the stats keep none', async () => {
    const r = await local.sandbox.invoke('traced', 'getFields', ['en', 'secret'], { trace: true });
    expect(r.ok).toBe(true);
    expect(labels(r.trace!.server)).toEqual(['start', 'send', 'hostArrive', 'hostAnswer', 'replyArrive', 'done']);
    expect(labels(r.trace!.sandbox)).toEqual(['arrive', 'enter', 'hostOut', 'hostIn', 'resumed', 'result', 'reply']);
    expect(inOrder(r.trace!.server) && inOrder(r.trace!.sandbox)).toBe(true);
    expect(r.stats?.trace).toBeUndefined();
  });

  it('an untraced call carries no marks (positive control: the same call traced does)', async () => {
    const plain = await local.sandbox.invoke('traced', 'getFields', ['en', 'secret']);
    expect(plain.ok).toBe(true);
    expect(plain.trace).toBeUndefined();
    expect(plain.stats?.trace).toBeUndefined();
    expect((await local.sandbox.invoke('traced', 'getFields', ['en', 'secret'], { trace: true })).trace).toBeDefined();
  });

  it('marks are labels and times only: no value the call read, plain or encoded', async () => {
    for (const what of ['secret', 'shown']) {
      const r = await local.sandbox.invoke('traced', 'getFields', ['en', what], { trace: true });
      const text = JSON.stringify(r.trace);
      for (const v of [SECRET, SHOWN, Buffer.from(SECRET).toString('base64'), Buffer.from(SECRET).toString('hex')]) expect(text).not.toContain(v);
      expect(r.trace!.server.every(([l, t]) => SERVER_LABELS.has(l) && Number.isFinite(t))).toBe(true);
      expect(r.trace!.sandbox.every(([l, t]) => SANDBOX_LABELS.has(l) && Number.isFinite(t))).toBe(true);
    }
  });

  it('a config read answered in the sandbox process crosses nothing: no host-call marks on either side', async () => {
    const r = await local.sandbox.invoke('traced', 'getFields', ['en', 'shown'], { trace: true });
    expect(r).toMatchObject({ ok: true, value: [{ name: SHOWN }] });
    expect(labels(r.trace!.server)).toEqual(['start', 'send', 'replyArrive', 'done']);
    expect(labels(r.trace!.sandbox)).toEqual(['arrive', 'enter', 'result', 'reply']);
  });
});
