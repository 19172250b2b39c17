// The host the escape-and-abuse corpus attacks: a real sandbox (two sandbox processes) behind the
// real policed host API (openLocalHost: in-memory SQLite, ephemeral master key), with a victim
// plugin holding a canary secret, attacker plugins that run whatever code a case hands them, and a
// sentinel plugin whose answers prove the host still serves after each case.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLocalHost } from '../../runtime/local/local-session.ts';
import type { LocalHost } from '../../runtime/local/local-session.ts';
import type { Grant } from '../../host-api/http.ts';
import type { InvokeResult } from '../../runtime/sandbox/sandbox-host.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';
import { ON_QUICKJS } from '../helpers/engine.ts';
import { orderWithTx } from '../helpers/orders.ts';
import { startRecorder } from './recorders.ts';
import type { Recorder } from './recorders.ts';
import { sleep } from './tally.ts';

const rand = () => crypto.randomBytes(8).toString('hex');

export const ALICE_CANARY = `alice-canary-${rand()}`;
export const ALICE_KEY = `alice-shown-key-${rand()}`;
export const MALLORY_SECRET = `mallory-own-secret-${rand()}`;
export const SDK_CANARY = `sdk-api-canary-${rand()}`;
export const SDK_SIGNING_CANARY = `sdk-signing-canary-${rand()}`;
/** Written to a file outside every plugin folder: a bundle or plugin that shows it read host files. */
export const HOST_FILE_MARKER = `host-file-marker-${rand()}`;

/**
 * The per-call CPU budget of the corpus's plugins. QuickJS interprets the corpus's legitimate
 * floods several times slower than V8 runs them (measured: 10 000 console lines 99 ms against
 * 27 ms, a 4 MB host-call argument 31 ms against 8 ms), and its cut, like isolated-vm's, is on the
 * wall clock: on a loaded machine 400 ms cut them. The attacks are cut all the same.
 */
export const CPU_MS = ON_QUICKJS ? 1000 : 400;
export const WALL_MS = 4000;
/**
 * The CPU budget of one configure.js evaluation (SandboxHostOptions.manifestCpuMs, its default),
 * set here so the corpus can hold a configure.js loop to it.
 */
export const CONFIGURE_CPU_MS = 500;

// Runs the code a case hands it, with the platform modules at hand. Used by several attacker
// plugins, so that an attack that breaks its own isolate (pollution, harvested prelude functions)
// does not disturb the next case.
const RUNNER_RUN = `
const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
const db = require('../../../db');
const updateHistory = require('../../../modules/updateHistory.js');
const axios = require('axios');
const crypto = require('crypto');
module.exports = function run(code, extra) {
  const fn = new Function('config', 'db', 'updateHistory', 'axios', 'crypto', 'host', 'extra', 'return (async () => { ' + code + '\\n})()');
  return fn(config, db, updateHistory, axios, crypto, globalThis.__ps_host, extra);
};`;

const RUNNER_INDEX = `
const run = require('./run.js');
class Runner {
  async getFields(lang, code) {
    if (typeof code !== 'string' || code === 'CARDUAH') return [{ _id: 'card_number', name: 'Card', required: true }];
    return run(code, lang);
  }
  async transfer(order) { return run(order.code, order); }
}
module.exports = Runner;`;

const RUNNER_CALLBACKS = `
const run = require('./run.js');
module.exports = { run: (req, res, param) => run(String(param.post && param.post.code), { req, res, param }) };`;

const ALICE_INDEX = `
const config = require('../../../modules/config/payout.config.js')('alice');
class Alice {
  async getFields(lang, probe) {
    if (probe === 'proto') {
      return { polluted: ({}).polluted === undefined ? null : String(({}).polluted), arr: [].poisoned === undefined ? null : String([].poisoned),
        parse: JSON.parse('{"a":1}').a, symbol: typeof globalThis[Symbol.for('ps.shared')] };
    }
    if (probe === 'sleep') { await new Promise((r) => setTimeout(r, Number(lang) || 1500)); return 'slept'; }
    if (probe === 'log') { console.log('ALICE-LOG-MARKER'); return 'logged'; }
    if (probe === 'secret') { return await config.get('apiSecret'); }
    return [{ _id: 'card_number', name: 'Card', regexp: '^[0-9]{16}$', required: true }];
  }
  async transfer() { return null; }
}
module.exports = Alice;`;

const ALICE_CALLBACKS = `
module.exports = {
  hold: async (req, res) => { await new Promise((r) => setTimeout(r, 1500)); res.end('alice answered'); },
};`;

const LOUD_INDEX = `
class Loud {
  async getFields(lang, spec) {
    const s = JSON.parse(spec);
    for (let i = 0; i < s.lines; i++) console.log(s.text + ' #' + i);
    if (s.raw) for (const [level, text] of s.raw) globalThis.__ps_host.log(level, text);
    return s.lines;
  }
  async transfer() { return null; }
}
module.exports = Loud;`;

export const sdkRunnerSource = (echo: string, evil: string) => `
import { definePayoutPlugin } from 'payout-sandbox/sdk';
export default definePayoutPlugin({
  manifest: {
    title: 'SDK attacker',
    currencies: ['CARDUAH'],
    config: { apiKey: { default: 'pk_known' }, apiSecret: { secret: true }, signingKey: { secret: true } },
    // The secrets are declared for the provider only; the second origin is the attacker's own.
    network: [{ origin: '${echo}', secrets: ['apiSecret', 'signingKey'] }, { origin: '${evil}' }],
  },
  fields(ctx, { lang, currency }) {
    const fn = new Function('ctx', 'host', 'return (async () => { ' + currency + '\\n})()');
    return fn(ctx, globalThis.__ps_host);
  },
  async transfer(ctx, order) { return { status: 'accepted', reference: 'r-' + order._id }; },
});`;

export interface CorpusEnv {
  local: LocalHost;
  echo: Recorder;
  evil: Recorder;
  grants: Map<string, Grant[]>;
  alice: { orderId: string; txId: string };
  /** A file outside every plugin folder holding HOST_FILE_MARKER. */
  markerFile: string;
  markerDir: string;
  /** Runs code in an attacker plugin (default mallory) as getFields(lang, code). */
  run(code: string, plugin?: string, opts?: { wallMs?: number; lang?: string }): Promise<InvokeResult>;
  /** The isolate's return value of run(), or throws with what went wrong. */
  value<T = any>(code: string, plugin?: string): Promise<T>;
  pidOf(plugin: string): number | null;
  /** The pid of the sandbox process that evaluates configure.js files, or null when it is not running. */
  configurePid(): number | null;
  close(): Promise<void>;
}

export async function startCorpusEnv(): Promise<CorpusEnv> {
  const echo = await startRecorder();
  const evil = await startRecorder();
  const grants = new Map<string, Grant[]>();
  const grant = (origin: string): Grant => ({ origin, pathPrefix: null, methods: null });
  const local = await openLocalHost({
    grantsFor: async (plugin) => grants.get(plugin) ?? [],
    http: { caps: { maxRequestsPerMinute: 100_000, totalTimeoutMs: 5000 } },
    // Two shared groups, so the corpus also proves what holds between plugins that share a
    // process (hosts may group plugins they trust; the default gives every plugin its own).
    // The per-plugin CPU window is lifted: 'bomber' spends its whole budget case after case, and
    // now that host-side work is charged, a loaded run refused its next case as `throttled` before
    // it could attack (the window has tests of its own: plugin-gate, noisy-neighbour).
    sandbox: { groups: { a: ['mallory', 'sentinel', 'bomber', 'stacky', 'sdkfree'], b: ['alice', 'loud', 'polly', 'sdkmal'] }, limits: { cpuMsPerCall: CPU_MS, wallMsPerCall: WALL_MS }, manifestCpuMs: CONFIGURE_CPU_MS, breaker: { threshold: 100_000 }, gate: { cpuMsPerWindow: 600_000 } },
  });
  await local.sandbox.start();

  const markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-security-host-'));
  const markerFile = path.join(markerDir, 'host-secret.js');
  fs.writeFileSync(markerFile, `module.exports = ${JSON.stringify(HOST_FILE_MARKER)};\n`);
  fs.writeFileSync(path.join(markerDir, 'host-secret.json'), JSON.stringify({ marker: HOST_FILE_MARKER }));

  const runner = { 'run.js': RUNNER_RUN, 'index.js': RUNNER_INDEX, 'callbacks.js': RUNNER_CALLBACKS };
  // mallory, sentinel and bomber share group a's process; alice lives in group b's.
  await local.load(writePlugin('mallory', runner), { apiSecret: MALLORY_SECRET, apiKey: 'mallory-key' });
  await local.load(writePlugin('alice', { 'index.js': ALICE_INDEX, 'callbacks.js': ALICE_CALLBACKS }), { apiSecret: ALICE_CANARY, apiKey: ALICE_KEY });
  await local.load(writePlugin('sentinel', {}));
  await local.load(writePlugin('loud', { 'index.js': LOUD_INDEX }));
  await local.load(writePlugin('bomber', runner));
  await local.load(writePlugin('polly', runner));
  await local.load(writePlugin('stacky', runner));
  await local.load(writePlugin('sdkmal', { 'configure.js': undefined as never, 'index.js': undefined as never, 'plugin.ts': sdkRunnerSource(echo.origin, evil.origin) }),
    { apiSecret: SDK_CANARY, signingKey: SDK_SIGNING_CANARY });
  // The same attacker with a manifest that binds no secret to any origin, granted two origins.
  await local.load(writePlugin('sdkfree', { 'configure.js': undefined as never, 'index.js': undefined as never,
    'plugin.ts': sdkRunnerSource(echo.origin, evil.origin).replace(/network: \[[^\n]*\],/, 'network: [],') }), { apiSecret: SDK_CANARY, signingKey: SDK_SIGNING_CANARY });
  for (const p of ['mallory', 'polly', 'bomber', 'stacky', 'sdkmal', 'sdkfree']) grants.set(p, [grant(echo.origin), grant(evil.origin)]);
  grants.set('alice', [grant(echo.origin)]);

  const a = await orderWithTx(local.store, 'alice');
  const processOf = (plugin: string) => (local.sandbox as unknown as { plugins: Map<string, { process: { pid: number | null } }> }).plugins.get(plugin)?.process;
  // The host keeps that process to itself (no plugin lives there); the corpus watches its pid.
  const configureProcess = () => (local.sandbox as unknown as { manifests: { process(): { pid: number | null } } }).manifests.process();

  const env: CorpusEnv = {
    local, echo, evil, grants, markerFile, markerDir,
    alice: { orderId: a.order._id, txId: a.txId },
    run: (code, plugin = 'mallory', opts = {}) => local.sandbox.invoke(plugin, 'getFields', [opts.lang ?? 'en', code], opts.wallMs ? { wallMs: opts.wallMs } : {}),
    async value(code, plugin = 'mallory') {
      const r = await env.run(code, plugin);
      if (!r.ok) throw new Error(`${plugin} failed: ${r.error.kind}: ${r.error.message}`);
      return r.value as never;
    },
    pidOf: (plugin) => processOf(plugin)?.pid ?? null,
    configurePid: () => configureProcess().pid,
    async close() {
      await local.close();
      await echo.close();
      await evil.close();
      fs.rmSync(markerDir, { recursive: true, force: true });
    },
  };
  return env;
}

/** The sentinel (sharing a sandbox process with the attackers) and the victim both still answer. */
export async function corpusStillServing(env: CorpusEnv): Promise<string | null> {
  let last = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    const s = await env.local.sandbox.invoke('sentinel', 'getFields', ['en', 'CARDUAH']);
    const a = await env.local.sandbox.invoke('alice', 'getFields', ['en', 'CARDUAH']);
    if (s.ok && a.ok) return null;
    last = `sentinel: ${s.ok ? 'ok' : `${s.error.kind} ${s.error.message}`}; alice: ${a.ok ? 'ok' : `${a.error.kind} ${a.error.message}`}`;
    await sleep(250);
  }
  return last;
}
