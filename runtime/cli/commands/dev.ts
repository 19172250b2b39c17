// `payout-sandbox dev <dir>`: one plugin on a real host, reloaded when its files change. A save is
// re-bundled and re-checked in a sandbox of its own first; only a version that passes replaces the
// running one, so a broken save prints the refusal and the last good version keeps serving.
// With --fake-provider a fake provider runs next to it (the example plugins' own fakes, or the
// scaffold's test/fake-provider.ts), and a stand-in customer pays every new order, so one curl
// shows a payout go through.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import pino from 'pino';
import { openPluginHost } from '../../../sdk/harness.ts';
import type { PluginHost } from '../../../sdk/harness.ts';
import { routesOf, startFakeProvider } from '../../../sdk/fake-provider.ts';
import type { FakeProviderScript } from '../../../sdk/fake-provider.ts';
import { startFakeProvider as startNimbus } from '../../demo/fake-provider.ts';
import { startFakeBillPay } from '../../demo/fake-billpay.ts';
import { errorInfo } from '../output.ts';
import { engineFromFlagOrEnv } from '../../plugins/engine-choice.ts';
import type { EngineName } from '../../sandbox/protocol.ts';
import { withEngineFlag } from '../engine-flag.ts';
import { describeChanges, watchFolder } from '../watch-folder.ts';
import { cronLine, observeDeliveries, streamAudit } from '../dev-console.ts';
import { describeScheme, sendSignedWebhook } from './trigger.ts';
import type { TriggerResult } from './trigger.ts';
import { typecheckPlugin } from '../../../sdk/typecheck.ts';
import type { CronEvent } from '../../cron/scheduler.ts';
import type { FolderWatcher } from '../watch-folder.ts';

export interface DevOptions {
  dir: string;
  /** Default 3000; 0 picks a free port. */
  port?: number;
  fakeProvider?: boolean;
  /** Keep the store in <dataDir> (sqlite) instead of memory. */
  dataDir?: string | null;
  config?: Record<string, string | number | boolean | null>;
  grants?: string[];
  debounceMs?: number;
  /** Typecheck .ts files after each reload (default true). */
  typecheck?: boolean;
  /** Where the dev server talks to the author. */
  print?: (line: string) => void;
  /** The engine to run the plugin on (default: PAYOUT_SANDBOX_ENGINE, else the default engine). */
  engine?: EngineName;
}

export interface DevServer {
  host: PluginHost;
  baseUrl: string;
  adminToken: string;
  provider: { url: string; close(): Promise<void> } | null;
  routes: { currency: string; routeId: string }[];
  /** Successful and refused reloads so far. */
  reloads: { ok: number; refused: number };
  /** Runs a reload now (what a file change triggers); true when the new version is running. */
  reload(): Promise<boolean>;
  /** Sends the plugin's webhook a delivery signed per its manifest with the session's secret. */
  trigger(t?: DevTrigger): Promise<TriggerResult>;
  /** Typechecks the folder now (what a reload does); resolves when printed. */
  typecheck(): Promise<void>;
  close(): Promise<void>;
}

export interface DevTrigger { json?: unknown; body?: string; timestamp?: number; unsigned?: boolean; secret?: string }

interface RunningFake { url: string; config: Record<string, string>; urlConfigKey: string | null; close(): Promise<void> }

// The example plugins' fakes: BillPay settles a bill in two steps of 1.5 s and calls back;
// NimbusPay finishes 3 s after the payout and sends its signed webhook.
const BUILT_IN_FAKES: Record<string, () => Promise<RunningFake>> = {
  async billpay() {
    const f = await startFakeBillPay({ behaviour: { stepEveryMs: 1500, webhook: true } });
    return { url: f.url, urlConfigKey: 'apiUrl', config: { ...f.credentials }, close: () => f.close() };
  },
  async nimbuspay() {
    const f = await startNimbus({ behaviour: { outcome: 'DONE', afterMs: 3000, webhook: 'auto' }, webhookRetryDelaysMs: [1000, 3000] });
    return { url: f.url, urlConfigKey: 'apiUrl', config: { ...f.credentials }, close: () => f.close() };
  },
};

const SCRIPT_NAMES = ['test/fake-provider.ts', 'test/fake-provider.js', 'test/fake-provider.mjs'];

async function startFake(key: string, dir: string): Promise<RunningFake> {
  const builtIn = BUILT_IN_FAKES[key];
  if (builtIn) return builtIn();
  const file = SCRIPT_NAMES.map((n) => path.join(dir, n)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`--fake-provider: there is no fake for '${key}'; add ${SCRIPT_NAMES[0]} (export default { routes, urlConfigKey?, config? }), as \`payout-sandbox new\` does`);
  const script = (await import(pathToFileURL(file).href)).default as FakeProviderScript;
  if (!script || (typeof script.routes !== 'object' && typeof script.routes !== 'function')) throw new Error(`${file} must export default { routes, urlConfigKey?, config? }`);
  const f = await startFakeProvider(routesOf(script));
  const config = Object.fromEntries(Object.entries(script.config ?? {}).map(([k, v]) => [k, String(v)]));
  return { url: f.url, urlConfigKey: script.urlConfigKey ?? null, config, close: () => f.close() };
}

function sampleValue(field: { _id: string; placeholder?: string }): string {
  if (/card/i.test(field._id)) return '4111111111111111';
  return field.placeholder && !/[.…]$/.test(field.placeholder) ? field.placeholder : 'test';
}

const guessSymbol = (currency: string) => /^CARD([A-Z]{3})$/.exec(currency)?.[1] ?? /^(USDT|USDC|BTC|ETH|TRX|LTC|TON)/.exec(currency)?.[1] ?? currency;

// The host's log, cut down to what an author watches: the plugin's own lines and host errors.
function devLogger(print: (line: string) => void, key: string, nextCron: () => string | null): pino.Logger {
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        try {
          const o = JSON.parse(line) as { level: number; msg?: string; plugin?: string; err?: string; cron?: CronEvent };
          if (o.msg === 'cron' && o.cron?.key === key) {
            const text = cronLine(o.cron, nextCron());
            if (text) print(text);
          } else if (o.msg?.startsWith('plugin log: ')) print(`  [${o.plugin}] ${o.msg.slice('plugin log: '.length)}`);
          else if (o.level >= 50) print(`  host error: ${o.msg ?? ''}${o.err ? ` — ${String(o.err).split('\n')[0]}` : ''}`);
        } catch { /* not a log line */ }
      }
      done();
    },
  });
  return pino({ level: 'info' }, stream);
}

export async function startDev(o: DevOptions): Promise<DevServer> {
  const print = o.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dir = path.resolve(o.dir);
  const key = path.basename(dir);
  const fake = o.fakeProvider ? await startFake(key, dir) : null;
  let host: PluginHost;
  let hostRef: PluginHost | null = null;
  try {
    if (o.dataDir) fs.mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
    host = await openPluginHost({
      dir, port: o.port ?? 3000, approvedBy: 'dev', engine: o.engine, logger: devLogger(print, key, () => (hostRef ? hostRef.host.cron.get(key)?.nextRun ?? null : null)),
      dataDir: o.dataDir ?? undefined, storeUrl: o.dataDir ? `sqlite:${path.join(o.dataDir, 'payout-sandbox.db')}` : 'sqlite::memory:',
      server: { sweepIntervalMs: 1000, statusPollMs: 2000, transferWallMs: 30_000 },
      onPayoutEvent: (e) => print(`payout ${e.kind}: order ${e.orderId}${e.reason ? ` (${e.reason})` : ''}`),
    });
  } catch (err) {
    await fake?.close();
    throw err;
  }
  hostRef = host;
  const { host: h } = host;
  const timers: NodeJS.Timeout[] = [];
  const stops: (() => void)[] = [
    observeDeliveries(host.app.server, key, print),
    streamAudit(h.store, () => h.hostApi.audit.flush(), key, print),
  ];
  const configured = new Map<string, string>();
  let watcher: FolderWatcher | null = null;
  try {
    for (const [k, v] of Object.entries({ ...fake?.config, ...o.config })) {
      await h.hostApi.config.set(key, k, v);
      if (v !== null) configured.set(k, String(v));
    }
    // A signing secret for this session, so `trigger` works at once; --config sets a real one.
    const scheme = host.plugin.manifest.webhookSignature;
    if (scheme && !configured.has(scheme.key)) {
      const generated = `whsec_dev_${crypto.randomBytes(18).toString('base64url')}`;
      await h.hostApi.config.set(key, scheme.key, generated);
      configured.set(scheme.key, generated);
      print(`  ${scheme.key}: set to a test secret generated for this session (trigger signs with it; --config '{"${scheme.key}":"…"}' sets your own)`);
    }
    if (fake) {
      await host.grant(fake.url);
      if (fake.urlConfigKey) await h.hostApi.config.set(key, fake.urlConfigKey, fake.url);
    }
    for (const g of o.grants ?? []) await host.grant(g);
  } catch (err) {
    await host.close();
    await fake?.close();
    throw err;
  }

  // One route per currency, paid out automatically; reused from a persistent store.
  const routes: DevServer['routes'] = [];
  const existing = await h.store.listRoutes();
  for (const currency of host.plugin.manifest.allow_XML) {
    const found = existing.find((r) => r.payoutPlugin === key && r.toXml === currency && r.active);
    const route = found ?? await h.store.createRoute({
      fromXml: 'USDTTRC20', toXml: currency, outSymbol: guessSymbol(currency), rate: '1', minAmount: '0.01', maxAmount: '1000000',
      payoutPlugin: key, autoPayout: true, active: true,
    });
    routes.push({ currency, routeId: route._id });
  }
  const routeIds = new Set(routes.map((r) => r.routeId));

  // The stand-in customer: pays each new order of the dev routes a second after it is created.
  const paying = new Set<string>();
  timers.push(setInterval(async () => {
    for (const order of await h.store.listOrders({ status: 'new', limit: 20 }).catch(() => [])) {
      if (!routeIds.has(order.routeId) || paying.has(order._id) || Date.now() - Date.parse(order.createdAt) < 1000) continue;
      paying.add(order._id);
      try {
        await h.orders.transition(order._id, 'inProgress', { actor: 'admin', comment: 'dev: the customer paid', expectStatus: 'new' });
        await h.orders.transition(order._id, 'inProgressPayout', { actor: 'admin', comment: 'dev: paying out', expectStatus: 'inProgress' });
        print(`order ${order.uid} (${order._id}) paid by the stand-in customer; payout started`);
      } catch (err) {
        print(`order ${order.uid}: the stand-in customer could not move it: ${(err as Error).message}`);
      }
    }
  }, 500));
  timers.push(setInterval(() => void h.sweepNow(), h.options.sweepIntervalMs));

  const reloads = { ok: 0, refused: 0 };
  // Types are checked after a reload, in a child process, one at a time; a reload meanwhile
  // checks again. Type errors are shown, not enforced: the sandbox checks what runs.
  let typing: Promise<void> | null = null;
  let typeAgain = false;
  const typecheckSoon = async (): Promise<void> => {
    if (o.typecheck === false || !fs.readdirSync(dir).some((f) => f.endsWith('.ts'))) return;
    if (typing) { typeAgain = true; return typing; }
    typing = (async () => {
      do {
        typeAgain = false;
        const r = await typecheckPlugin(dir).catch((err: Error) => ({ checked: false, errors: [err.message], files: 0 }));
        if (!r.checked && !r.errors.length) print('  types: not checked (install typescript to typecheck in the loop)');
        else if (!r.errors.length) print(`  types: ok (${r.files} file${r.files === 1 ? '' : 's'})`);
        else print([`  types: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}`, ...r.errors.slice(0, 10).map((e) => `    ${e}`)].join('\n'));
      } while (typeAgain);
    })().finally(() => { typing = null; });
    return typing;
  };
  void typecheckSoon();
  const cronNext = h.cron.get(key)?.nextRun;
  if (cronNext) print(`⏱ cron: first run ${cronNext.slice(11, 19)} (in ${Math.max(0, Math.round((Date.parse(cronNext) - Date.now()) / 1000))} s)`);
  let running: Promise<boolean> | null = null;
  let again = false;
  const reloadOnce = async (): Promise<boolean> => {
    const started = performance.now();
    try {
      let plugin;
      try {
        plugin = await host.reload();
      } catch (err) {
        // The folder changed between the check and the swap: check what is there now.
        if (errorInfo(err).code !== 'tampered') throw err;
        plugin = await host.reload();
      }
      reloads.ok++;
      void typecheckSoon();
      print(`✔ reloaded ${key}: ${plugin.manifest.title}, bundle ${plugin.bundle.sha256.slice(0, 12)} (${Math.round(performance.now() - started)} ms)`);
      return true;
    } catch (err) {
      reloads.refused++;
      print(`✖ ${key} was not reloaded: ${errorInfo(err).message}`);
      print(h.registry.active(key) ? '  the last good version keeps running; save again to retry' : `  ${key} is not running; fix the error and save again`);
      return false;
    }
  };
  const reload = (): Promise<boolean> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let ok = await reloadOnce();
      while (again) {
        again = false;
        ok = await reloadOnce();
      }
      return ok;
    })().finally(() => { running = null; });
    return running;
  };

  watcher = watchFolder(dir, (changes) => {
    print(`↻ ${describeChanges(changes)}: checking ${key} again…`);
    void reload();
  }, { debounceMs: o.debounceMs ?? 150, onError: (m) => print(`  watch: ${m}`) });

  const trigger = async (t: DevTrigger = {}): Promise<TriggerResult> => {
    const scheme = host.plugin.manifest.webhookSignature ?? null;
    const r = await sendSignedWebhook({
      baseUrl: host.baseUrl, key, scheme, secret: t.secret ?? (scheme ? configured.get(scheme.key) : null),
      body: t.body ?? JSON.stringify(t.json ?? {}), timestamp: t.timestamp, unsigned: t.unsigned,
    });
    print(`  trigger: ${t.unsigned ? 'unsigned' : describeScheme(scheme)} → ${r.status} ${r.text.slice(0, 120)}`);
    return r;
  };

  return {
    host, baseUrl: host.baseUrl, adminToken: host.adminToken, provider: fake, routes, reloads, reload, trigger,
    typecheck: () => typecheckSoon(),
    async close() {
      for (const stop of stops) stop();
      await typing;
      watcher?.close();
      for (const t of timers) clearInterval(t);
      await running;
      await host.close();
      await fake?.close();
    },
  };
}

function banner(dev: DevServer, values: { key: string; value: string }[], print: (line: string) => void): void {
  const p = dev.host.plugin;
  const key = dev.host.key;
  const lines = [
    '',
    `payout-sandbox dev: ${key} (${p.manifest.title}, ${p.manifest.format} format, engine ${p.engine}) on ${dev.baseUrl}`,
    `  watching ${dev.host.dir}: a save is checked in the sandbox and swapped in when it passes`,
    `  admin API: Authorization: Bearer ${dev.adminToken}`,
    `  store: ${dev.host.host.options.dbUrl}`,
  ];
  for (const cb of p.description.callbacks) lines.push(`  callback: POST ${dev.baseUrl}/payout_call/${key}/${cb}/`);
  if (dev.provider) lines.push(`  fake provider: ${dev.provider.url} (granted; its URL and test credentials are in the plugin's config)`);
  const route = dev.routes[0];
  if (route) {
    lines.push('', `  routes: ${dev.routes.map((r) => `${r.currency} ${r.routeId}`).join(', ')} (rate 1; a stand-in customer pays new orders)`);
    lines.push('  create an order and watch it pay out:', '');
    lines.push(`  curl -s -X POST ${dev.baseUrl}/api/public/exchanger/order/create -H 'content-type: application/json' \\`);
    lines.push(`    -d '${JSON.stringify({ routeId: route.routeId, amount: '100', agreement: true, lang: 'en', toValues: values })}'`);
  }
  print(lines.join('\n'));
}

export async function runDev(dir: string, flags: { port?: string; fakeProvider?: boolean; persist?: boolean; data?: string; config?: string; grant?: string[]; engine?: string }): Promise<void> {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  let dev: DevServer;
  try {
    const port = flags.port === undefined ? 3000 : Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${flags.port}: give a port number from 0 to 65535`);
    let config: DevOptions['config'];
    if (flags.config) {
      try { config = JSON.parse(flags.config); } catch { throw new Error('--config must be a JSON object, e.g. \'{"apiUrl":"http://127.0.0.1:8080"}\''); }
    }
    dev = await startDev({
      dir, port, fakeProvider: Boolean(flags.fakeProvider), config, grants: flags.grant ?? [], print, engine: engineFromFlagOrEnv(flags.engine),
      dataDir: flags.persist || flags.data ? path.resolve(flags.data ?? './data-dev') : null,
    });
  } catch (err) {
    process.stderr.write(`payout-sandbox dev: ${errorInfo(err).message}\n`);
    process.exitCode = 1;
    return;
  }
  const route = dev.routes[0];
  let values: { key: string; value: string }[] = [];
  if (route) {
    const fields = await dev.host.host.sandbox.invoke(dev.host.key, 'getFields', ['en', route.currency]);
    if (fields.ok && Array.isArray(fields.value)) values = (fields.value as { _id: string; placeholder?: string }[]).map((f) => ({ key: f._id, value: sampleValue(f) }));
  }
  banner(dev, values, print);
  if (dev.host.plugin.manifest.format === 'sdk') {
    print(`\n  type 'trigger {"id":"po_1"}' here to send a signed webhook ('trigger --unsigned', 'trigger --expired' to see refusals)`);
  }
  print('');
  const input = readline.createInterface({ input: process.stdin, terminal: false });
  input.on('line', (line) => {
    const m = /^\s*(?:t|trigger)\b\s*(--unsigned|--expired)?\s*(.*)$/.exec(line);
    if (!m) { if (line.trim()) print("  commands: trigger [json] | trigger --unsigned [json] | trigger --expired [json]"); return; }
    const text = m[2].trim() || '{}';
    try { JSON.parse(text); } catch { print(`  trigger: ${text.slice(0, 60)} is not JSON`); return; }
    const scheme = dev.host.plugin.manifest.webhookSignature;
    const expired = m[1] === '--expired' && scheme ? Math.floor(Date.now() / (scheme.timestampUnit === 'ms' ? 1 : 1000)) - (scheme.toleranceSec + 60) * (scheme.timestampUnit === 'ms' ? 1000 : 1) : undefined;
    dev.trigger({ body: text, unsigned: m[1] === '--unsigned', timestamp: expired }).catch((err) => print(`  trigger: ${errorInfo(err).message}`));
  });
  const stop = () => {
    // Let the process end by itself once everything is closed; the timer only catches a straggler.
    setTimeout(() => process.exit(0), 5000).unref();
    input.close();
    void dev.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerDevCommand(program: Command): void {
  withEngineFlag(program
    .command('dev')
    .description('run one plugin on a local host, reloaded on every save (a broken save keeps the last good version); optionally with a fake provider')
    .argument('<pluginDir>', 'the plugin folder (its name is the plugin key)')
    .option('--port <port>', 'port on 127.0.0.1 (default 3000; 0 picks a free one)')
    .option('--fake-provider', "run a fake provider: the example plugins' own, or the folder's test/fake-provider.ts")
    .option('--persist', 'keep orders and config in ./data-dev (SQLite) instead of memory')
    .option('--data <dir>', 'with --persist: the data folder (default ./data-dev)')
    .option('--config <json>', 'config values as a JSON object (secret keys are sealed as on a server)')
    .option('--grant <origin>', 'allow requests to this origin (repeatable)', collect, []))
    .action((dir: string, opts) => runDev(dir, opts));
}
