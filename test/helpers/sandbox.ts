// A SandboxHost with a small recording host-call handler, for tests of the sandbox core itself
// (the policed host API has its own tests under test/host-api).
import { bundlePlugin } from '../../runtime/bundler/bundle-plugin.ts';
import { SandboxHost } from '../../runtime/sandbox/sandbox-host.ts';
import type { HostCallHandler, HostCallReply, SandboxHostOptions } from '../../runtime/sandbox/sandbox-host.ts';
import type { HostCallContext } from '../../host-api/capability.ts';
import type { SandboxProcess } from '../../runtime/sandbox/supervisor.ts';

export interface RecordedCall { plugin: string; method: string; capability: string; args: unknown }

export function recordingHandler(answer: (cap: string, args: unknown, ctx: HostCallContext) => HostCallReply | Promise<HostCallReply> = () => ({ ok: true, value: 'value' })) {
  const calls: RecordedCall[] = [];
  const logs: { plugin: string; level: string; text: string }[] = [];
  const handler: HostCallHandler = {
    async handle(ctx, capability, args) {
      calls.push({ plugin: ctx.plugin, method: ctx.method, capability, args });
      return answer(capability, args, ctx);
    },
    log(plugin, _callId, level, text) {
      logs.push({ plugin, level, text });
    },
  };
  return { handler, calls, logs };
}

export async function startSandbox(options: Partial<SandboxHostOptions> = {}, handler = recordingHandler()) {
  const host = new SandboxHost({ handler: handler.handler, ...options });
  await host.start();
  return { host, ...handler };
}

export async function registerDir(host: SandboxHost, dir: string) {
  const bundle = await bundlePlugin(dir);
  return host.register(bundle, { pluginKey: bundle.key, env: { API_URL: 'http://127.0.0.1:9/' }, labels: { en: {} } });
}

type LoadRequest = Extract<Parameters<SandboxProcess['request']>[0], { t: 'load' }>;

/** Calls `seen` with every load request the server sends to `proc` from now on (the request goes on unchanged). */
export function watchLoads(proc: SandboxProcess, seen: (req: LoadRequest) => void): void {
  const request = proc.request.bind(proc);
  proc.request = ((req: Parameters<SandboxProcess['request']>[0], ...rest: unknown[]) => {
    if (req.t === 'load') seen(req);
    return (request as (...a: unknown[]) => ReturnType<SandboxProcess['request']>)(req, ...rest);
  }) as SandboxProcess['request'];
}

// True when a call's error says its own sandbox process ended it at a wall deadline of at most
// `ownMs`. The process is handed what is left of the call's deadline when the call reaches it
// (500 ms can arrive as 499), so the figure is read, not matched.
export function endedAtOwnDeadline(error: string | null | undefined, ownMs: number): boolean {
  const handed = Number(/^deadline: .*within its (\d+) ms deadline/.exec(error ?? '')?.[1]);
  return handed > 0 && handed <= ownMs;
}
