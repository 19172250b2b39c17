// Against a real server (test/helpers/test-host.ts): the corpus cases about callback responses
// (header injection and friends), and the webhook-abuse group — duplicates, out-of-order and
// forged deliveries, oversize bodies (413), floods (429), never-ending handlers (504), probing of
// unknown plugins and callbacks (404), hostile bodies — each counted by outcome.
import crypto from 'node:crypto';
import { signNimbusWebhook } from '../../runtime/demo/nimbus-signing.ts';
import { IPN_SECRET } from '../helpers/test-host.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';
import { endedAtOwnDeadline } from '../helpers/sandbox.ts';
import { rawHeaders, rawPost, serverStillServing, startServerEnv } from './server-env.ts';
import type { ServerEnv } from './server-env.ts';
import { all, maxEventLoopGap, sleep } from './tally.ts';
import type { SecurityCase } from './tally.ts';

export const CALLBACK_WALL_MS = 1500;
export const WEBHOOK_RATE = 40;
export const WEBHOOK_BODY_LIMIT = 64 * 1024;
export const GET_FIELDS_WALL_MS = 1500;

const HOOKY_CONFIGURE = `
module.exports.type = 'payout';
module.exports.title = 'Hooky';
module.exports.name = 'hooky';
module.exports.required_npm = [];
module.exports.allow_XML = ['CARDUAH', 'REDOS'];
module.exports.default_config = {};
module.exports.required_config = {};`;

const HOOKY_INDEX = `
module.exports = class {
  async getFields(lang, xml) {
    if (xml === 'REDOS') return [{ _id: 'account', name: 'Account', regexp: '^(a+)+$', required: true }];
    return [{ _id: 'card_number', name: 'Card', required: true }];
  }
  async transfer() { return { ok: 2, transaction: 't' }; }
};`;

const HOOKY_CALLBACKS = `
module.exports = {
  echo: async (req, res, param) => { res.set('Content-Type', 'application/json'); res.end(JSON.stringify({ headers: req.headers, post: param.post, get: param.get, proto: ({}).polluted === undefined ? null : 'polluted' })); },
  crlf: async (req, res) => { res.set({ 'Content-Type': 'text/plain\\r\\nX-Injected: yes', 'Cache-Control': 'no-cache\\nSet-Cookie: a=b', 'ETag': '"x"\\r\\n\\r\\n<script>evil()</script>' }); res.writeHead(200, { 'Content-Language': 'en\\r\\nLocation: https://evil.example/' }); res.end('crlf'); },
  forbidden: async (req, res) => { res.set({ 'Set-Cookie': 'sid=stolen; Path=/', Location: 'https://evil.example/', 'Access-Control-Allow-Origin': '*', 'Content-Security-Policy': "default-src *", 'X-Frame-Options': 'ALLOWALL', 'Strict-Transport-Security': 'max-age=0', 'Refresh': '0;url=https://evil.example/', Link: '<https://evil.example>; rel=preload' }); res.writeHead(200); res.end('<html><script>steal()</script></html>'); },
  names: async (req, res) => { res.set('X-A\\r\\nX-Injected', 'yes'); res.set('content-type\\r\\nx-injected', 'yes'); res.set('', 'empty'); res.set('Content-Type:', 'text/html'); res.end('names'); },
  nonlatin: async (req, res) => { res.set('Content-Language', 'en\\u2028x'); res.set('Cache-Control', '\\u0100\\u010a'); res.set('Content-Type', 'text/plain\\u0000'); res.end('nonlatin'); },
  status: async (req, res, param) => { res.writeHead(Number(param.get.code)); res.end('status'); },
  big: async (req, res) => { res.end('x'.repeat(5 * 1024 * 1024)); },
  twice: async (req, res) => { res.end('first'); res.writeHead(500, { 'Content-Type': 'text/html' }); res.end('second'); },
  hang: async () => { await new Promise(() => {}); },
  spin: async () => { for (;;) {} },
  slow: async (req, res) => { await new Promise((r) => setTimeout(r, 300)); res.end('slow'); },
  ok: async (req, res) => { res.end('ok'); },
};`;

export interface HookEnv extends ServerEnv {
  sandboxPid(): number | null;
}

export async function startHookEnv(): Promise<HookEnv> {
  const env = await startServerEnv({
    callbackWallMs: CALLBACK_WALL_MS, webhookRatePerMinute: WEBHOOK_RATE, webhookBodyLimitBytes: WEBHOOK_BODY_LIMIT, getFieldsWallMs: GET_FIELDS_WALL_MS,
  }, { provider: { behaviour: { outcome: 'DONE', webhook: 'manual' } } });
  await env.load(writePlugin('hooky', { 'configure.js': HOOKY_CONFIGURE, 'index.js': HOOKY_INDEX, 'callbacks.js': HOOKY_CALLBACKS }));
  await env.load(writePlugin('floody', { 'configure.js': HOOKY_CONFIGURE.replaceAll('hooky', 'floody').replace('Hooky', 'Floody'), 'index.js': HOOKY_INDEX, 'callbacks.js': HOOKY_CALLBACKS }));
  return Object.assign(env, { sandboxPid: () => env.t.host.sandbox.processOf('hooky')?.pid ?? null });
}

type Case = SecurityCase<HookEnv>;
const cb = (name: string) => `/payout_call/hooky/${name}/`;

// ---- corpus: what a plugin's callback response can do to the HTTP answer ---------------------------
export const callbackCases: Case[] = [
  {
    name: 'callback response: CR/LF in header values cannot inject headers or a body',
    attack: 'res.set / writeHead with values containing \\r\\n, a second header and an HTML body after a blank line',
    async run(env) {
      const raw = await env.raw(rawPost(cb('crlf'), ''));
      const h = rawHeaders(raw);
      return all([[!h.names.includes('x-injected') && !h.names.includes('set-cookie') && !h.names.includes('location'), `injected headers: ${h.block}`],
        [!raw.includes('<script>evil()'), 'an injected body reached the wire']]);
    },
  },
  {
    name: 'callback response: Set-Cookie, Location, CORS, CSP and friends are dropped; the sandbox CSP stays',
    attack: 'sets Set-Cookie, Location, Access-Control-Allow-Origin, its own CSP, X-Frame-Options, HSTS, Refresh, Link',
    async run(env) {
      const h = rawHeaders(await env.raw(rawPost(cb('forbidden'), '')));
      const bad = ['set-cookie', 'location', 'access-control-allow-origin', 'x-frame-options', 'strict-transport-security', 'refresh', 'link'].filter((n) => h.names.includes(n));
      const csp = /content-security-policy: ([^\r\n]*)/i.exec(h.block)?.[1] ?? '';
      return all([[bad.length === 0, `passed through: ${bad.join(', ')}`], [/sandbox/.test(csp) && !/default-src \*/.test(csp), `CSP is "${csp}"`],
        [/x-content-type-options: nosniff/i.test(h.block), 'nosniff missing']]);
    },
  },
  {
    name: 'callback response: header names with CR/LF, empty or with a colon are dropped',
    attack: "res.set('X-A\\r\\nX-Injected', …), res.set('', …), res.set('Content-Type:', 'text/html')",
    async run(env) {
      const raw = await env.raw(rawPost(cb('names'), ''));
      const h = rawHeaders(raw);
      return all([[h.status === 200 && !h.names.includes('x-injected') && !/text\/html/.test(h.block), `headers: ${h.block}`]]);
    },
  },
  {
    name: 'callback response: non-Latin-1 and control characters in header values',
    attack: 'values with U+2028, U+0100, U+010A, NUL',
    async run(env) {
      const raw = await env.raw(rawPost(cb('nonlatin'), ''));
      const h = rawHeaders(raw);
      // Whatever the answer, no raw control byte may reach the header block and the server must keep serving.
      return all([[h.status > 0, 'no HTTP answer'], [!/[\u0000\u000a\u000b\u000c]/.test(h.block.replace(/\r\n/g, '')) && !h.names.includes('x-injected'), `header block: ${JSON.stringify(h.block)}`]]);
    },
  },
  {
    name: 'callback response: informational, invalid and huge status codes become 500',
    attack: 'writeHead(101 | 99 | 0 | 1000 | NaN | 304)',
    async run(env) {
      const out: string[] = [];
      for (const code of ['101', '99', '0', '1000', 'NaN', '100']) {
        const h = rawHeaders(await env.raw(rawPost(`${cb('status')}?code=${code}`, '')));
        out.push(`${code}→${h.status}`);
      }
      return all([[out.every((o) => o.endsWith('→500')), `statuses: ${out.join(' ')}`]]);
    },
  },
  {
    name: 'callback response: a 5 MB body is cut to the 1 MiB chunk limit or refused',
    attack: 'res.end of a 5 MB string',
    async run(env) {
      const r = await env.http('POST', cb('big'), '');
      return all([[r.body.length <= 1024 * 1024 + 16, `answered ${r.status} with ${r.body.length} bytes`]]);
    },
  },
  {
    name: 'callback response: only the first end() counts',
    attack: 'res.end("first"), then writeHead(500, text/html) and end("second")',
    async run(env) {
      const r = await env.http('POST', cb('twice'), '');
      return all([[r.status === 200 && r.body === 'first' && !/html/.test(r.headers['content-type'] ?? ''), `answered ${r.status} ${r.body}`]]);
    },
  },
  {
    name: 'callback: a handler spinning on the CPU is cut; the server keeps answering meanwhile',
    attack: 'for (;;) {} in a webhook handler',
    async run(env) {
      const { value: r, stallMs, wallGapMs } = await maxEventLoopGap(() => env.http('POST', cb('spin'), ''));
      return all([[r.status >= 500, `answered ${r.status}`], [stallMs < 500, `the server's event loop was busy ${Math.round(stallMs)} ms without turning (largest gap ${Math.round(wallGapMs)} ms)`]]);
    },
  },
];

// ---- webhook abuse ---------------------------------------------------------------------------------
const counts: Record<string, string> = {};
export function webhookCounts(): string {
  return Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join('; ');
}

async function nimbusOrder(env: HookEnv) {
  const h = env.t;
  const created = await env.http('POST', '/api/public/exchanger/order/create', {
    routeId: h.routeId, amount: '10', agreement: true, lang: 'en', toValues: [{ key: 'card_number', value: '4111111111111111' }],
    ipnUrl: `${h.merchant.url}/ipn`, ipnSecret: IPN_SECRET,
  });
  if (created.status !== 200) throw new Error(`order create: ${created.status} ${created.body}`);
  const order = JSON.parse(created.body) as { orderId: string; uid: number };
  for (const status of ['inProgress', 'inProgressPayout']) await h.admin('POST', `/api/admin/orders/${order.uid}/status`, { status });
  const payout = await h.waitFor('the provider to accept', async () => h.provider.transfersFor(order.orderId)[0] ?? null);
  await h.waitFor('the tx', async () => ((await h.admin('GET', `/api/admin/orders/${order.uid}`)).json.payoutTxs.length ? true : null));
  return { ...order, payoutId: payout.id };
}

async function detail(env: HookEnv, uid: number) {
  return (await env.t.admin('GET', `/api/admin/orders/${uid}`)).json as { order: { status: string }; history: { toStatus: string }[]; ipns: unknown[] };
}

const signed = (env: HookEnv, body: string) => ({ 'content-type': 'application/json', 'x-nimbus-signature': signNimbusWebhook(env.t.provider.credentials.webhookSecret, body) });

async function inboxCount(env: HookEnv, plugin: string): Promise<number> {
  return (await env.t.host.store.listWebhooks({ plugin, limit: 1000 })).length;
}

export const webhookCases: Case[] = [
  {
    name: 'duplicate deliveries settle the order once',
    attack: 'the provider delivers the same signed "DONE" webhook 6 times, sequentially and concurrently',
    async run(env) {
      const order = await nimbusOrder(env);
      env.t.provider.settle(order.payoutId, 'DONE');
      const answers: number[] = [];
      for (let i = 0; i < 3; i++) answers.push((await env.t.provider.deliverWebhook(order.payoutId)).status ?? 0);
      answers.push(...(await Promise.all([1, 2, 3].map(() => env.t.provider.deliverWebhook(order.payoutId)))).map((d) => d.status ?? 0));
      await env.t.waitFor('the done IPN', async () => env.t.merchant.received.some((i) => i.fields.orderId === order.orderId && i.fields.newStatus === 'done'), 5000).catch(() => null);
      await sleep(500);
      const d = await detail(env, order.uid);
      const ipnsDone = env.t.merchant.received.filter((i) => i.fields.orderId === order.orderId && i.fields.newStatus === 'done').length;
      counts.duplicates = `6 deliveries → ${d.history.filter((e) => e.toStatus === 'done').length} settle, ${ipnsDone} done IPN (answers ${answers.join(',')})`;
      return all([[d.order.status === 'done', `order is ${d.order.status}`], [d.history.filter((e) => e.toStatus === 'done').length === 1, 'settled more than once'],
        [ipnsDone === 1, `${ipnsDone} "done" IPNs`], [env.t.provider.transfersFor(order.orderId).length === 1, 'paid more than once']]);
    },
    timeoutMs: 30_000,
  },
  {
    name: 'out-of-order deliveries change nothing: early, stale and contradicting webhooks',
    attack: 'a signed webhook for a payout the host has not recorded; then, after "done", a replayed old delivery and a signed "FAILED" for the same payout',
    async run(env) {
      const early = JSON.stringify({ event: 'payout.updated', id: `np_${crypto.randomBytes(6).toString('hex')}`, status: 'DONE' });
      const a = await env.http('POST', '/payout_call/nimbuspay/url_final/', early, signed(env, early));
      const order = await nimbusOrder(env);
      env.t.provider.settle(order.payoutId, 'DONE');
      const first = await env.t.provider.deliverWebhook(order.payoutId);
      const before = await detail(env, order.uid);
      const replay = await env.http('POST', '/payout_call/nimbuspay/url_final/', first.body, signed(env, first.body));
      const contradicting = JSON.stringify({ ...JSON.parse(first.body), status: 'FAILED' });
      const c = await env.http('POST', '/payout_call/nimbuspay/url_final/', contradicting, signed(env, contradicting));
      await sleep(200);
      const after = await detail(env, order.uid);
      counts.outOfOrder = `early → ${a.status}, replay → ${replay.status}, contradicting → ${c.status}`;
      return all([[a.status >= 400 && a.status < 500, `early delivery answered ${a.status}`], [after.order.status === 'done', `order is ${after.order.status}`],
        [after.history.length === before.history.length && after.ipns.length === before.ipns.length, 'a late delivery changed the order']]);
    },
    timeoutMs: 30_000,
  },
  {
    name: 'forged signatures are refused and change nothing',
    attack: 'a "DONE" webhook signed with a wrong secret, with no signature, and with the signature of another body',
    async run(env) {
      const order = await nimbusOrder(env);
      const body = JSON.stringify({ event: 'payout.updated', id: order.payoutId, status: 'DONE' });
      const statuses = [
        (await env.http('POST', '/payout_call/nimbuspay/url_final/', body, { 'content-type': 'application/json', 'x-nimbus-signature': signNimbusWebhook('wrong-secret', body) })).status,
        (await env.http('POST', '/payout_call/nimbuspay/url_final/', body, { 'content-type': 'application/json' })).status,
        (await env.http('POST', '/payout_call/nimbuspay/url_final/', body, { 'content-type': 'application/json', 'x-nimbus-signature': signNimbusWebhook(env.t.provider.credentials.webhookSecret, '{}') })).status,
      ];
      const d = await detail(env, order.uid);
      counts.forged = `signatures refused: ${statuses.join(',')}`;
      return all([[statuses.every((s) => s === 401), `answers ${statuses}`], [d.order.status === 'inProgressPayout', `order is ${d.order.status}`]]);
    },
    timeoutMs: 30_000,
  },
  {
    name: 'oversize bodies are refused with 413 before the plugin runs',
    attack: `bodies of ${WEBHOOK_BODY_LIMIT + 1} bytes and 5 MB, declared and chunked`,
    async run(env) {
      const before = await inboxCount(env, 'hooky');
      const a = await env.http('POST', cb('ok'), 'x'.repeat(WEBHOOK_BODY_LIMIT + 1), { 'content-type': 'text/plain' });
      const b = await env.http('POST', cb('ok'), 'y'.repeat(5 * 1024 * 1024), { 'content-type': 'application/json' });
      const after = await inboxCount(env, 'hooky');
      counts['413'] = `${[a, b].filter((r) => r.status === 413).length} of 2`;
      return all([[a.status === 413 && b.status === 413, `answered ${a.status}, ${b.status}`], [after === before, 'an oversize delivery was recorded or run']]);
    },
  },
  {
    name: 'a flood is cut to the per-plugin rate with 429, other plugins keep their budget',
    attack: `${WEBHOOK_RATE + 30} deliveries to one plugin as fast as possible`,
    async run(env) {
      const n = WEBHOOK_RATE + 30;
      const { value: answers, stallMs } = await maxEventLoopGap(() => Promise.all(Array.from({ length: n }, () => env.http('POST', '/payout_call/floody/ok/', 'x=1', { 'content-type': 'application/x-www-form-urlencoded' }))));
      const by = (s: number) => answers.filter((r) => r.status === s).length;
      const other = await env.http('POST', cb('ok'), 'x=1', { 'content-type': 'application/x-www-form-urlencoded' });
      counts['429'] = `${by(429)} of ${n} refused, ${by(200)} served`;
      return all([[by(200) <= WEBHOOK_RATE && by(429) >= n - WEBHOOK_RATE, `200×${by(200)}, 429×${by(429)}`], [answers.every((r) => r.status === 200 || r.status === 429), 'other answers during the flood'],
        [other.status === 200, `another plugin got ${other.status}`], [stallMs < 1000, `the event loop was busy ${Math.round(stallMs)} ms without turning`]]);
    },
  },
  {
    name: 'a never-ending handler is answered 504 at the deadline and the call is ended',
    attack: 'a handler that awaits a promise that never settles',
    async run(env) {
      const pid = env.sandboxPid();
      const r = await env.http('POST', cb('hang'), '');
      // The call ends when its sandbox process cuts it at the same deadline; a watchdog's kill
      // (the deadline plus its grace) would have recorded it as a crash and replaced the process.
      const row = await env.t.waitFor('the hang delivery to be finished', async () => {
        const [last] = await env.t.host.store.listWebhooks({ plugin: 'hooky', limit: 1 });
        return last?.callback === 'hang' && last.state !== 'received' ? last : null;
      }).catch(() => null);
      const message = r.status === 504 ? (JSON.parse(r.body) as { message?: string }).message : r.body.slice(0, 120);
      counts['504'] = `${r.status}, the call ended as ${row?.error?.split(':')[0] ?? 'never'}`;
      return all([[r.status === 504, `answered ${r.status}`],
        [message === `the plugin did not answer within ${CALLBACK_WALL_MS} ms`, `answered by something else than the callback's own ${CALLBACK_WALL_MS} ms deadline: ${message}`],
        [row?.state === 'failed', `inbox row ${row?.state ?? 'never finished'}`],
        [endedAtOwnDeadline(row?.error, CALLBACK_WALL_MS), `the call was not ended by its own sandbox process at its deadline: ${row?.error}`],
        [env.sandboxPid() === pid, `the sandbox process was replaced (pid ${pid} → ${env.sandboxPid()})`]]);
    },
  },
  {
    name: 'probing unknown plugins and callbacks: 404, nothing recorded, nothing run, no rate budget used',
    attack: '120 random plugin names, callback names (incl. __proto__, constructor, ../, %2e%2e) and other methods',
    async run(env) {
      const before = { hooky: await inboxCount(env, 'hooky'), all: (await env.t.host.store.listWebhooks({ limit: 1000 })).length };
      const names = [...Array.from({ length: 100 }, () => crypto.randomBytes(5).toString('hex')), '__proto__', 'constructor', 'toString', 'hasOwnProperty', '..', '%2e%2e', 'hooky%2fecho', 'nimbuspay%00'];
      const answers: number[] = [];
      for (const n of names) answers.push((await env.http('POST', `/payout_call/${n}/echo/`, '{}', { 'content-type': 'application/json' })).status);
      for (const n of ['__proto__', 'constructor', 'toString', 'nope', 'url_final%00', '..%2fecho']) answers.push((await env.http('POST', `/payout_call/hooky/${n}/`, '{}', { 'content-type': 'application/json' })).status);
      for (const m of ['PUT', 'DELETE', 'PATCH']) answers.push((await env.http(m, cb('echo'), '{}', { 'content-type': 'application/json' })).status);
      const ok = await env.http('POST', cb('ok'), '');
      const after = { hooky: await inboxCount(env, 'hooky'), all: (await env.t.host.store.listWebhooks({ limit: 1000 })).length };
      counts['404'] = `${answers.filter((s) => s === 404).length} of ${answers.length} probes`;
      return all([[answers.every((s) => s === 404), `answers ${[...new Set(answers)]}`], [after.all - before.all === 1 && after.hooky - before.hooky === 1, 'a probe was recorded'],
        [ok.status === 200, `the real callback then got ${ok.status}`]]);
    },
  },
  {
    name: 'webhook answers are not an oracle for secrets (admin token, plugin credentials)',
    attack: "probes /payout_call/<guess>/x/ and /payout_call/nimbuspay/<guess>/ where some guesses are the admin token and NimbusPay's real secrets, looking for a [redacted:…] marker",
    async run(env) {
      const { ADMIN_TOKEN } = await import('../helpers/test-host.ts');
      const c = env.t.provider.credentials;
      const answers: string[] = [];
      for (const g of ['not-a-secret', ADMIN_TOKEN, c.apiSecret, c.webhookSecret]) {
        answers.push((await env.http('POST', `/payout_call/${encodeURIComponent(g)}/echo/`, '{}', { 'content-type': 'application/json' })).body);
        answers.push((await env.http('POST', `/payout_call/nimbuspay/${encodeURIComponent(g)}/`, '{}', { 'content-type': 'application/json' })).body);
      }
      const marked = answers.filter((a) => a.includes('[redacted'));
      counts.oracle = `${marked.length} of ${answers.length} probe answers marked a guess`;
      return all([[marked.length === 0, `a guess was confirmed: ${marked[0]?.slice(0, 160)}`]]);
    },
  },
  {
    name: 'a deeply nested JSON body does not take the sandbox process down',
    attack: 'a 20 KB body of 10,000 nested arrays (what JSON.stringify cannot copy) to a real callback, three times',
    async run(env) {
      const pid = env.sandboxPid();
      const body = '['.repeat(10_000) + ']'.repeat(10_000);
      const answers: number[] = [];
      for (let i = 0; i < 3; i++) answers.push((await env.http('POST', cb('echo'), body, { 'content-type': 'application/json' })).status);
      await sleep(CALLBACK_WALL_MS + 2500); // past the deadline plus the watchdog's grace
      counts.deepJson = `answers ${answers.join(',')}, sandbox ${env.sandboxPid() === pid ? 'kept' : 'restarted'}`;
      return all([[env.sandboxPid() === pid, `the sandbox process was killed (pid ${pid} → ${env.sandboxPid()})`], [answers.every((s) => s < 500 || s === 500), `answers ${answers}`]]);
    },
    timeoutMs: 20_000,
  },
  {
    name: 'prototype-polluting bodies pollute neither the server nor the plugin',
    attack: 'JSON and form bodies with __proto__ and constructor.prototype keys',
    async run(env) {
      const json = await env.http('POST', cb('echo'), '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"a":1}', { 'content-type': 'application/json' });
      const form = await env.http('POST', cb('echo'), '__proto__[polluted]=1&constructor[prototype][polluted]=1&a=1', { 'content-type': 'application/x-www-form-urlencoded' });
      const q = await env.http('POST', `${cb('echo')}?__proto__[polluted]=1&constructor.prototype.polluted=1`, '');
      const seen = [json, form, q].map((r) => JSON.parse(r.body).proto);
      return all([[({} as Record<string, unknown>).polluted === undefined, 'the server\'s Object.prototype was polluted'], [seen.every((s) => s === null), `the plugin saw ${seen}`]]);
    },
  },
  {
    name: 'the caller\'s Cookie and hop-by-hop headers never reach the plugin',
    attack: 'a delivery with Cookie, Connection: x-secret, X-Secret, Proxy-Authorization',
    async run(env) {
      const r = await env.raw(rawPost(cb('echo'), '{}', { 'Content-Type': 'application/json', Cookie: 'admin_session=s3cr3t', 'X-Secret': 'hop', 'Proxy-Authorization': 'Basic eA==' }).replace('Connection: close', 'Connection: close, x-secret'));
      const body = r.split('\r\n\r\n').slice(1).join('\r\n\r\n');
      return all([[!/admin_session|s3cr3t/.test(body) && !/"x-secret"/.test(body) && !/proxy-authorization/i.test(body), `the plugin saw: ${body.slice(0, 300)}`]]);
    },
  },
  {
    name: '50 concurrent deliveries to a slow handler are all answered in time',
    attack: '50 parallel deliveries to a handler that takes 300 ms (over the rate: the rest must be 429, none may hang)',
    async run(env) {
      const pid = env.sandboxPid();
      // Every delivery gets an answer (none hangs: Promise.all returns); one served in time is
      // answered by the handler itself, since past its deadline the server answers 504 instead.
      const answers = await Promise.all(Array.from({ length: 50 }, () => env.http('POST', cb('slow'), '')));
      const served = answers.filter((a) => a.status === 200);
      const statuses = [...new Set(answers.map((a) => a.status))];
      counts.concurrent = `50: ${statuses.map((s) => `${s}×${answers.filter((a) => a.status === s).length}`).join(' ')}`;
      return all([[answers.every((a) => [200, 429].includes(a.status)), `answers ${statuses}`],
        [served.length > 0, 'no delivery was served, so none was shown to be answered in time'],
        [served.every((a) => a.body === 'slow'), `a served delivery was not answered by the handler: ${served.find((a) => a.body !== 'slow')?.body.slice(0, 120)}`],
        [env.sandboxPid() === pid, `the sandbox process was replaced (pid ${pid} → ${env.sandboxPid()})`]]);
    },
    timeoutMs: 30_000,
  },
  {
    name: 'oversized headers and URLs are refused by the HTTP layer',
    attack: 'a 40 KB URL and 2,000 headers',
    async run(env) {
      const longUrl = await env.raw(`POST ${cb('echo')}?q=${'a'.repeat(40_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      const many = await env.raw(`POST ${cb('echo')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${Array.from({ length: 2000 }, (_, i) => `x-h${i}: ${'v'.repeat(20)}`).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
      const s = [rawHeaders(longUrl).status, rawHeaders(many).status];
      return all([[s.every((x) => x === 431 || x === 414 || x === 400 || x === 0), `answers ${s}`]]);
    },
  },
  {
    name: 'a catastrophic field regexp in an order form burns only the plugin\'s budget',
    attack: 'order create on a direction whose plugin field pattern is ^(a+)+$, with "aaaa…!" as the value',
    async run(env) {
      const route = await env.t.admin('POST', '/api/admin/routes', { fromXml: 'USDTTRC20', toXml: 'REDOS', outSymbol: 'UAH', rate: '1', minAmount: '1', maxAmount: '100', payoutPlugin: 'hooky', autoPayout: false, active: true });
      const pid = env.sandboxPid();
      const { value: r, stallMs } = await maxEventLoopGap(async () => {
        const pending = env.http('POST', '/api/public/exchanger/order/create', { routeId: route.json.route._id, amount: '10', agreement: true, toValues: [{ key: 'account', value: `${'a'.repeat(40)}!` }] });
        const health = await env.http('GET', '/healthz');
        return { order: await pending, health };
      });
      // The check is cut inside the plugin's own sandbox process, by its CPU limit or its
      // deadline, and audited under that kind; a watchdog's kill (the deadline plus its grace)
      // would be audited as a crash and replace the process.
      await env.t.host.hostApi.audit.flush();
      const [audited] = await env.t.host.store.queryAudit({ plugin: 'hooky', capability: 'merchant.order.validateFields', limit: 1 });
      counts.redos = `order answered ${r.order.status} (${audited?.rule ?? 'not audited'}); /healthz meanwhile ${r.health.status}`;
      return all([[r.order.status === 503 || r.order.status === 422, `answered ${r.order.status}`],
        [audited?.rule === 'plugin.cpu_limit' || audited?.rule === 'plugin.deadline', `the field check was not cut by its own limits: audited ${audited ? `${audited.rule}: ${audited.summary}` : 'nothing'}`],
        [env.sandboxPid() === pid, `the sandbox process was replaced (pid ${pid} → ${env.sandboxPid()})`],
        [r.health.status === 200 && stallMs < 500, `the server was busy ${Math.round(stallMs)} ms without turning`]]);
    },
  },
];

export { startServerEnv, serverStillServing };
