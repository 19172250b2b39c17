// A callback's answer (res.end) and the call's reply: when both leave the sandbox process in the
// same turn, the reply carries the answer (one frame instead of two, bench/: webhooks). The rules
// that must hold whichever way it travels: the caller gets the answer as soon as the plugin gives
// it (not when the call ends), the first answer is the one it gets, and a process answers only the
// calls of the plugins it hosts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../../../../runtime/sandbox/sandbox-host.ts';
import type { SandboxProcess } from '../../../../runtime/sandbox/supervisor.ts';
import type { CallbackResponse, FromSandbox } from '../../../../runtime/sandbox/protocol.ts';
import { writePlugin } from '../../../helpers/plugin-fixture.ts';
import { registerDir, startSandbox } from '../../../helpers/sandbox.ts';

let host: SandboxHost;

const CALLBACKS = `module.exports = {
  answers: async (req, res) => { res.writeHead(200); res.end('done ' + req.METHOD); },
  answersThenWorks: async (req, res) => {
    res.writeHead(202); res.end('early');
    await new Promise((r) => setTimeout(r, 300));
    return 'finished later';
  },
  answersTwice: async (req, res) => { res.writeHead(200); res.end('first'); res.writeHead(500); res.end('second'); },
  answersThenThrows: async (req, res) => { res.writeHead(200); res.end('before the throw'); throw new Error('after answering'); },
  holds: async (req, res) => { await new Promise((r) => setTimeout(r, 600)); res.writeHead(200); res.end('alice itself'); },
};`;

const internals = () => host as unknown as { calls: Map<string, { plugin: { key: string } }>; plugins: Map<string, { process: SandboxProcess }> };
const processOf = (key: string) => internals().plugins.get(key)!.process;

/** Every message the server receives from `key`'s process from now on, by type. */
function watchFrames(key: string): FromSandbox[] {
  const seen: FromSandbox[] = [];
  const proc = processOf(key) as unknown as { dispatch(msg: FromSandbox): void };
  const dispatch = proc.dispatch.bind(proc);
  proc.dispatch = (msg: FromSandbox) => {
    seen.push(msg);
    dispatch(msg);
  };
  return seen;
}

const request = { method: 'POST', ip: '127.0.0.1', url: '/', path: '/', headers: {}, query: {}, body: {} };
const callback = (name: string) => ({ name, req: request, param: { post: {}, get: {}, rawBody: '' } });

beforeAll(async () => {
  ({ host } = await startSandbox({ limits: { wallMsPerCall: 5000 } }));
  for (const key of ['alice', 'mallory']) {
    const reg = await registerDir(host, writePlugin(key, { 'callbacks.js': CALLBACKS }));
    expect(reg.ok, JSON.stringify(reg)).toBe(true);
  }
  expect(processOf('alice')).not.toBe(processOf('mallory'));
});
afterAll(async () => {
  await host.close();
});

describe('a callback answer and its call\'s reply', () => {
  it('a callback that ends by answering sends one frame: the reply, carrying the answer, handled before the result', async () => {
    const frames = watchFrames('alice');
    const order: string[] = [];
    const result = await host.invoke('alice', 'callback', callback('answers'), { onRespond: (r) => order.push(`answer ${r.status} ${r.body}`) });
    order.push('result');
    expect(result.ok, JSON.stringify(result)).toBe(true);
    expect(order).toEqual(['answer 200 done POST', 'result']);
    const types = frames.map((f) => f.t);
    expect(types).toEqual(['reply']);
    expect(frames[0]).toMatchObject({ t: 'reply', respond: { t: 'respond', response: { status: 200, body: 'done POST' } } });
  });

  it('an answer whose call goes on is sent at once, on its own (positive control: the caller does not wait for the call)', async () => {
    const frames = watchFrames('alice');
    let answered: CallbackResponse | null = null;
    let answeredWhileRunning = false;
    let running = true;
    const call = host.invoke('alice', 'callback', callback('answersThenWorks'), { onRespond: (r) => { answered = r; answeredWhileRunning = running; } });
    const result = await call;
    running = false;
    expect(result).toMatchObject({ ok: true, value: 'finished later' });
    expect(answered).toMatchObject({ status: 202, body: 'early' });
    expect(answeredWhileRunning).toBe(true);
    expect(frames.map((f) => f.t)).toEqual(['respond', 'reply']);
    expect(frames[1]).not.toHaveProperty('respond');
  });

  it('of two answers of one call, the first is the one the caller gets', async () => {
    const answers: string[] = [];
    const result = await host.invoke('alice', 'callback', callback('answersTwice'), { onRespond: (r) => answers.push(`${r.status} ${r.body}`) });
    expect(result.ok).toBe(true);
    expect(answers[0]).toBe('200 first');
  });

  it('an answer given before the plugin throws still reaches the caller, with the failure', async () => {
    const answers: string[] = [];
    const result = await host.invoke('alice', 'callback', callback('answersThenThrows'), { onRespond: (r) => answers.push(r.body) });
    expect(result).toMatchObject({ ok: false, error: { kind: 'plugin_error' } });
    expect(answers).toEqual(['before the throw']);
  });

  it('a reply carrying an answer for another plugin\'s call is refused like a lone forged answer; the same reply from the call\'s own process is answered (positive control)', async () => {
    const answers: string[] = [];
    const before = new Set(internals().calls.keys());
    const pending = host.invoke('alice', 'callback', callback('holds'), { onRespond: (r) => answers.push(r.body) });
    let callId: string | undefined;
    for (let i = 0; i < 100 && !callId; i++) {
      await new Promise((r) => setTimeout(r, 10));
      callId = [...internals().calls.entries()].find(([id, c]) => !before.has(id) && c.plugin.key === 'alice')?.[0];
    }
    expect(callId).toBeDefined();
    const forged = (body: string): FromSandbox => ({
      t: 'reply', id: -1, ok: true, value: null,
      respond: { t: 'respond', callId: callId!, response: { status: 200, headers: { 'content-type': 'text/html' }, body } },
    });
    // As a compromised process could: a reply (to no request of the server's) carrying alice's call id.
    (processOf('mallory') as unknown as { dispatch(msg: FromSandbox): void }).dispatch(forged('FORGED by mallory'));
    expect(answers).toEqual([]);
    (processOf('alice') as unknown as { dispatch(msg: FromSandbox): void }).dispatch(forged('from alice\'s own process'));
    expect(answers).toEqual(['from alice\'s own process']);
    await pending;
    expect(answers.some((a) => a.includes('FORGED'))).toBe(false);
  });
});
