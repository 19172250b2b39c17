// `payout-sandbox call <pluginDir> <method> [--args JSON] [--config JSON] [--grant ORIGIN]... [--json]`:
// run one plugin method in a local sandbox with the real host API, and print the result and the
// audit trail of every host call it made.
import { openLocalSession, originGrant } from '../../local/local-session.ts';
import { engineFromFlagOrEnv } from '../../plugins/engine-choice.ts';
import type { LocalSession } from '../../local/local-session.ts';
import { fail, printJson, section } from '../output.ts';
import type { CallbackResponse } from '../../sandbox/protocol.ts';

export interface CallOptions {
  args?: string;
  config?: string;
  grant?: string[];
  /** --engine: the engine to run the plugin on. */
  engine?: string;
  json?: boolean;
}

function parseJson(text: string | undefined, flag: string, example: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${flag} is not valid JSON (${(err as Error).message}); quote it for the shell, e.g. ${flag} '${example}'`);
  }
}

/** Turns `--args` into what the sandbox expects for each kind of method. */
export function invocation(session: LocalSession, method: string, args: unknown): { method: string; args: unknown } {
  const p = session.plugin;
  switch (method) {
    case 'getFields':
      return { method, args: args ?? ['en', p.manifest.allow_XML[0] ?? null] };
    case 'transfer':
      if (!args) throw new Error('transfer needs --args with the order, e.g. --args \'[{"_id":"o1","uid":1,"outAmount":"10","outXML":"CARDUAH","outSymbol":"UAH","outValues":{"card_number":"4111111111111111"}}]\'');
      return { method, args: Array.isArray(args) ? args : [args] };
    case 'cron':
    case 'initCron':
    case 'describe':
      return { method, args: [] };
    default: {
      if (!p.description.callbacks.includes(method)) {
        const known = ['getFields', 'transfer', 'cron', 'initCron', 'describe', ...p.description.callbacks];
        throw new Error(`'${method}' is not a method or callback of ${p.key}; choose one of: ${known.join(', ')}`);
      }
      const a = (args ?? {}) as { method?: string; post?: unknown; get?: Record<string, string>; headers?: Record<string, string>; rawBody?: string; ip?: string };
      const post = a.post ?? {};
      const rawBody = a.rawBody ?? JSON.stringify(post);
      return {
        method: 'callback',
        args: {
          name: method,
          req: { method: a.method ?? 'POST', ip: a.ip ?? '127.0.0.1', url: `/payout_call/${p.key}/${method}/`, path: `/payout_call/${p.key}/${method}/`, headers: a.headers ?? { 'content-type': 'application/json' }, query: a.get ?? {}, body: post },
          param: { post, get: a.get ?? {}, rawBody },
        },
      };
    }
  }
}

export async function runCall(dir: string, method: string, options: CallOptions): Promise<void> {
  let session: LocalSession | null = null;
  try {
    const args = parseJson(options.args, '--args', '["en","CARDUAH"]');
    const config = parseJson(options.config, '--config', '{"apiKey":"k"}') as Record<string, unknown> | undefined;
    if (config !== undefined && (config === null || typeof config !== 'object' || Array.isArray(config))) throw new Error('--config must be a JSON object of config keys, e.g. --config \'{"apiKey":"k"}\'');
    session = await openLocalSession(dir, { config, grants: (options.grant ?? []).map(originGrant), sandbox: { engine: engineFromFlagOrEnv(options.engine) } });
    const call = invocation(session, method, args);
    let response: CallbackResponse | null = null;
    const result = await session.sandbox.invoke(session.plugin.key, call.method, call.args, { onRespond: (r) => { response = r; } });
    await session.host.audit.flush();
    await session.host.pluginLog.flush();
    const audit = (await session.store.queryAudit({ plugin: session.plugin.key, limit: 1000 })).reverse()
      .map((r) => ({ at: r.at, capability: r.capability, decision: r.decision, rule: r.rule, summary: r.summary, ms: r.durationMs }));
    const log = (await session.store.queryPluginLog({ plugin: session.plugin.key, limit: 1000 })).reverse().map((l) => `${l.level}: ${l.text}`);
    const out = {
      ok: result.ok, plugin: session.plugin.key, method, engine: session.plugin.engine,
      ...(result.ok ? { result: result.value } : { error: result.error }),
      ...(response ? { response } : {}),
      requestsSent: result.ctx.counters.outboundRequests,
      audit, log,
    };
    if (options.json) printJson(out);
    else {
      process.stdout.write([
        result.ok ? `✔ ${method} returned:\n${JSON.stringify(result.value, null, 2)}` : `✘ ${method} failed (${result.error.kind}): ${result.error.message}`,
        response ? `\nresponse: ${JSON.stringify(response)}` : '',
        '\n' + section('Host calls (audit trail)', audit.map((a) => `${a.decision.padEnd(7)} ${a.capability} ${a.summary}${a.rule ? ` [${a.rule}]` : ''}`)),
        section('Plugin log', log),
      ].join('\n'));
    }
    if (!result.ok) process.exitCode = 1;
  } catch (err) {
    fail(Boolean(options.json), err, { method });
  } finally {
    await session?.close();
  }
}
