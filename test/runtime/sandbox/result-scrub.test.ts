// What leaves a plugin for the server (runtime/sandbox/result-scrub.ts): its own secrets taken out
// of results, callback answers and failure texts, and a result too large to scrub quickly refused
// instead of walked on the server's thread. Attacked through a real sandbox process; each refusal
// has its control (the same plugin under the limit).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import { scrubAnswer, scrubFailure } from '../../../runtime/sandbox/result-scrub.ts';
import { MAX_RESULT_VALUES } from '../../../runtime/sandbox/result-values.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { recordingHandler, registerDir, startSandbox } from '../../helpers/sandbox.ts';

const SECRET = 'leaky-secret-4f1c9a';
const hide = (text: string) => text.split(SECRET).join('[secret]');
const scrubbers = {
  scrub: hide,
  scrubFor<T>(plugin: string, value: T): T { return plugin === 'leaky' ? JSON.parse(hide(JSON.stringify(value))) as T : value; },
};

describe('scrubAnswer and scrubFailure', () => {
  it('take the plugin\'s own secret out of an answer and a failure, message and thrown alike', () => {
    expect(scrubAnswer(scrubbers, 'leaky', { echo: `key=${SECRET}` })).toEqual({ ok: true, value: { echo: 'key=[secret]' } });
    expect(scrubAnswer(scrubbers, 'other', { echo: SECRET })).toEqual({ ok: true, value: { echo: SECRET } });
    const failure = scrubFailure(scrubbers, { kind: 'plugin_error', message: `bad ${SECRET}`, thrown: { name: 'Error', message: SECRET } });
    expect(failure).toMatchObject({ message: 'bad [secret]', thrown: { message: '[secret]' } });
    expect(scrubFailure({}, { kind: 'plugin_error', message: SECRET })).toEqual({ kind: 'plugin_error', message: SECRET });
  });

  it('refuses an answer over MAX_RESULT_VALUES values without scrubbing it; one under passes (control)', () => {
    let walked = 0;
    const counting = { scrubFor<T>(_plugin: string, value: T): T { walked++; return value; } };
    const over = scrubAnswer(counting, 'leaky', new Array(MAX_RESULT_VALUES).fill(0));
    expect(over).toMatchObject({ ok: false, message: expect.stringMatching(/^leaky returned more than 100000 values/) });
    expect(walked).toBe(0);
    expect(scrubAnswer(counting, 'leaky', new Array(MAX_RESULT_VALUES - 1).fill(0))).toMatchObject({ ok: true });
    expect(walked).toBe(1);
  });
});

describe('through a sandbox process', () => {
  let host: SandboxHost;
  beforeAll(async () => {
    const recording = recordingHandler();
    ({ host } = await startSandbox({ limits: { cpuMsPerCall: 2000, wallMsPerCall: 10_000 }, breaker: { threshold: 100 } }, { ...recording, handler: { ...recording.handler, ...scrubbers } }));
    const reg = await registerDir(host, writePlugin('leaky', {
      'index.js': `
class Leaky {
  async getFields(lang, n) { return n === 'secret' ? [{ _id: 'x', name: '${SECRET}' }] : new Array(Number(n)).fill(0); }
  async transfer() { throw new Error('provider said ${SECRET}'); }
}
module.exports = Leaky;`,
      'callbacks.js': `module.exports = { hook: async (req, res) => { res.end('token ${SECRET}'); } };`,
    }));
    expect(reg.ok, JSON.stringify(reg)).toBe(true);
  });
  afterAll(async () => { await host?.close(); });

  it('a result, a thrown error and a callback answer reach the server without the plugin\'s secret', async () => {
    expect(await host.invoke('leaky', 'getFields', ['en', 'secret'])).toMatchObject({ ok: true, value: [{ _id: 'x', name: '[secret]' }] });
    const thrown = await host.invoke('leaky', 'transfer', [{}]);
    expect(thrown.ok).toBe(false);
    if (!thrown.ok) expect(JSON.stringify(thrown.error)).not.toContain(SECRET);
    let answered: unknown = null;
    const request = { method: 'POST', ip: '127.0.0.1', url: '/', path: '/', headers: {}, query: {}, body: null };
    await host.invoke('leaky', 'callback', { name: 'hook', req: request, param: { post: {}, get: {} } }, { onRespond: (r) => { answered = r; } });
    expect(answered).toMatchObject({ status: 200, body: 'token [secret]' });
  });

  // The sandbox process refuses it first; the server's own check (above) is for a process that
  // does not (a compromised one), and gives the same kind.
  it('a result of more than MAX_RESULT_VALUES values is a bad_result; one just under is returned (control)', async () => {
    const under = await host.invoke('leaky', 'getFields', ['en', String(MAX_RESULT_VALUES - 1)]);
    expect(under.ok, JSON.stringify(under.ok ? null : under.error)).toBe(true);
    const over = await host.invoke('leaky', 'getFields', ['en', String(MAX_RESULT_VALUES)]);
    expect(over).toMatchObject({ ok: false, error: { kind: 'bad_result', message: expect.stringMatching(/returned more than 100000 values/) } });
  });
});
