// What the sandbox corpus (corpus-escape.ts, corpus-bridge.ts, corpus-limits.ts) reads to decide a
// case: the audit and plugin log as the host stored them, and whether a call that breached a limit
// was cut.
import type { CorpusEnv } from './corpus-env.ts';
import { stopped, through } from './tally.ts';
import type { Outcome } from './tally.ts';

export async function auditOf(env: CorpusEnv, plugin: string, capability?: string) {
  await env.local.host.audit.flush();
  return env.local.store.queryAudit({ plugin, ...(capability ? { capability } : {}), limit: 1000 });
}

export async function logOf(env: CorpusEnv, plugin: string) {
  await env.local.host.pluginLog.flush();
  return env.local.store.queryPluginLog({ plugin, limit: 1000 });
}

/** A call that breaches a limit must be cut: failed, with one of these kinds, within `withinMs`. */
export function cut(r: Awaited<ReturnType<CorpusEnv['run']>>, ms: number, withinMs: number, kinds: string[]): Outcome {
  if (r.ok) return through(`the call finished normally with ${JSON.stringify(r.value).slice(0, 120)}`);
  if (!kinds.includes(r.error.kind)) return through(`the call failed with ${r.error.kind} (${r.error.message}), expected ${kinds.join('/')}`);
  if (ms > withinMs) return through(`the call was cut only after ${Math.round(ms)} ms (limit ${withinMs} ms)`);
  return stopped();
}

export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await work();
  return { value, ms: performance.now() - t0 };
}
