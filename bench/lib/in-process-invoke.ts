// A benchmark-only stand-in for SandboxHost.invoke: the same signature and result shape, but the
// plugin runs in this process (bench/in-process/load-platform-plugin.ts) with store-backed
// platform modules (store-platform.ts). The HTTP routes, the store and everything around the
// plugin stay the host's own, so the difference between the two is the price of isolation.
// Never imported by runtime/.
import crypto from 'node:crypto';
import { newCounters } from '../../host-api/capability.ts';
import type { HostCallContext } from '../../host-api/capability.ts';
import type { InvokeOptions, InvokeResult, SandboxHost } from '../../runtime/sandbox/sandbox-host.ts';
import type { CallbackRequest, CallbackResponse } from '../../runtime/sandbox/protocol.ts';
import type { LoadedPlatformPlugin } from '../in-process/load-platform-plugin.ts';
import type { DirectHost } from './store-platform.ts';

export interface InProcessPlugin {
  loaded: LoadedPlatformPlugin;
  host: DirectHost;
}

export type InvokeFn = SandboxHost['invoke'];

interface CronLike { fn: () => Promise<unknown> }

export function inProcessInvoke(plugins: Map<string, InProcessPlugin>): InvokeFn {
  const crons = new Map<string, CronLike | null>();
  return async (key: string, method: string, args: unknown, options: InvokeOptions = {}): Promise<InvokeResult> => {
    const label = method === 'callback' ? `callback:${(args as { name?: string })?.name}` : method;
    const callId = `ip${crypto.randomBytes(4).toString('hex')}`;
    const ctx: HostCallContext = { plugin: key, callId, method: label, deadline: Date.now() + (options.wallMs ?? 30_000), counters: newCounters() };
    const entry = plugins.get(key);
    if (!entry) return { ok: false, error: { kind: 'not_loaded', message: `no plugin '${key}' is loaded in process` }, callId, ctx, stats: null };
    entry.host.ctx.method = label;
    entry.host.ctx.deadline = ctx.deadline;
    const { loaded } = entry;
    try {
      let value: unknown;
      switch (method) {
        case 'getFields': {
          const a = args as [string, string];
          value = await loaded.plugin.getFields(a[0], a[1]);
          break;
        }
        case 'transfer':
          value = await loaded.plugin.transfer((args as unknown[])[0]);
          break;
        case 'cron': {
          if (!crons.has(key)) crons.set(key, loaded.cron() as CronLike | null);
          const cron = crons.get(key);
          if (!cron) throw new Error('the plugin has no cron job');
          value = await cron.fn();
          break;
        }
        case 'callback': {
          const a = args as { name: string; req: CallbackRequest; param: unknown };
          const handler = Object.hasOwn(loaded.callbacks, a.name) ? loaded.callbacks[a.name] : undefined;
          if (typeof handler !== 'function') throw new Error(`the plugin has no callback named ${a.name}`);
          value = await handler(requestFacade(a.req), responseFacade(options.onRespond), a.param);
          break;
        }
        default:
          throw new Error(`unknown method ${method}`);
      }
      return { ok: true, value: value === undefined ? null : value, callId, ctx, stats: null };
    } catch (err) {
      const message = typeof err === 'string' ? err : String((err as Error)?.message ?? err);
      return { ok: false, error: { kind: 'plugin_error', message }, callId, ctx, stats: null };
    }
  };
}

// The same façades plugin-calls.isolate.js gives a callback, minus the freezing and copying.
function requestFacade(req: CallbackRequest) {
  return {
    METHOD: req.method, method: req.method, IP_ADDRESS: req.ip, ip: req.ip,
    headers: req.headers, url: req.url, path: req.path, query: req.query, body: req.body,
  };
}

function responseFacade(onRespond: ((r: CallbackResponse) => void) | undefined) {
  const state = { status: 200, headers: {} as Record<string, string>, chunks: [] as string[], ended: false };
  const res = {
    set(name: string | Record<string, unknown>, value?: unknown) {
      if (name && typeof name === 'object') {
        for (const k of Object.keys(name)) res.set(k, name[k]);
        return res;
      }
      state.headers[String(name).toLowerCase()] = String(value);
      return res;
    },
    setHeader: (name: string, value: unknown) => res.set(name, value),
    header: (name: string, value: unknown) => res.set(name, value),
    status(code: number) { state.status = Number(code); return res; },
    writeHead(code: number, headers?: Record<string, unknown>) {
      state.status = Number(code);
      if (headers && typeof headers === 'object') res.set(headers);
      return res;
    },
    write(chunk: unknown) {
      if (!state.ended && chunk !== undefined) state.chunks.push(String(chunk));
      return true;
    },
    end(chunk?: unknown) {
      if (state.ended) return res;
      if (chunk !== undefined && chunk !== null) res.write(chunk);
      state.ended = true;
      onRespond?.({ status: state.status, headers: state.headers, body: state.chunks.join('') });
      return res;
    },
    send(body: unknown) {
      if (body !== null && typeof body === 'object') return res.json(body);
      return res.end(body === undefined ? '' : String(body));
    },
    json(body: unknown) {
      if (!state.headers['content-type']) state.headers['content-type'] = 'application/json';
      return res.end(JSON.stringify(body));
    },
  };
  return res;
}
