// What the sandbox corpus (corpus-escape.ts, corpus-bridge.ts, corpus-limits.ts, corpus-bundle.ts) reads to decide a
// case: the audit and plugin log as the host stored them, and whether a call that breached a limit
// was cut, and cut by its own sandbox process. No case reads a clock to decide: machines running
// the suite are shared and noisy, and speed goals live in the benchmark.
import type { InvokeResult } from '../../runtime/sandbox/sandbox-host.ts';
import { USAGE_SUPPORTED, readUsage } from '../../runtime/sandbox/process-usage.ts';
import { CONFIGURE_CPU_MS, CPU_MS, WALL_MS } from './corpus-env.ts';
import type { CorpusEnv } from './corpus-env.ts';
import { all, through } from './tally.ts';
import type { Outcome } from './tally.ts';

export async function auditOf(env: CorpusEnv, plugin: string, capability?: string) {
  await env.local.host.audit.flush();
  return env.local.store.queryAudit({ plugin, ...(capability ? { capability } : {}), limit: 1000 });
}

export async function logOf(env: CorpusEnv, plugin: string) {
  await env.local.host.pluginLog.flush();
  return env.local.store.queryPluginLog({ plugin, limit: 1000 });
}

/**
 * CPU time the corpus's sandbox process may spend on a call that is cut at its CPU budget: halfway
 * between that budget and the call's deadline. A call whose loop ran outside a timed section would
 * have burned until its deadline (or the watchdog's kill) instead.
 */
export const NEARER_BUDGET_THAN_DEADLINE_MS = (CPU_MS + WALL_MS) / 2;

export interface CutCheck {
  /** The failure kinds that count as cut by the limit the case breaches. */
  kinds: string[];
  /**
   * Also require the kernel's count of the sandbox process's CPU time over the call to stay under
   * NEARER_BUDGET_THAN_DEADLINE_MS (where the kernel exposes it: Linux).
   */
  nearBudget?: boolean;
  /** Further checks of the failure, e.g. which deadline its message names. */
  also?: (error: { kind: string; message: string }) => [boolean, string][];
}

/**
 * Runs `attack` (a call of `plugin`) and decides whether it was cut: failed with one of `kinds`,
 * answered by its own sandbox process (a watchdog's kill at the deadline plus its grace leaves no
 * call stats), which still runs (same pid) for the plugins it hosts. Read from the server's side:
 * the pid it keeps and the kernel's CPU count, never the process's word for its CPU.
 */
export async function cutInProcess(env: CorpusEnv, plugin: string, check: CutCheck, attack: () => Promise<InvokeResult>): Promise<Outcome> {
  const pid = env.pidOf(plugin);
  if (pid === null) return through(`no sandbox process hosted ${plugin} before the attack, so none could be watched`);
  const before = readUsage(pid);
  const r = await attack();
  const after = readUsage(pid);
  if (r.ok) return through(`the call finished normally with ${JSON.stringify(r.value).slice(0, 120)}`);
  const cpuMs = before && after ? after.cpuMs - before.cpuMs : null;
  const checks: [boolean, string][] = [
    [check.kinds.includes(r.error.kind), `the call failed with ${r.error.kind} (${r.error.message}), expected ${check.kinds.join('/')}`],
    [r.stats !== null, `the sandbox process did not cut the call itself; it ended as ${r.error.kind}: ${r.error.message}`],
    [env.pidOf(plugin) === pid, `the sandbox process was replaced (pid ${pid} → ${env.pidOf(plugin)})`],
  ];
  if (check.also) checks.push(...check.also(r.error));
  if (check.nearBudget && USAGE_SUPPORTED) {
    checks.push([cpuMs !== null, `the kernel's CPU count of sandbox process ${pid} could not be read`]);
    checks.push([cpuMs === null || cpuMs <= NEARER_BUDGET_THAN_DEADLINE_MS,
      `the sandbox process spent ${cpuMs} ms of CPU on the call: cut nearer its ${WALL_MS} ms deadline than its ${CPU_MS} ms CPU budget`]);
  }
  return all(checks);
}

/**
 * The deadline of one configure.js evaluation: its CPU budget plus the second the host gives the
 * configure process to answer (manifest-reader.ts); the watchdog kills that process its grace later.
 */
const CONFIGURE_DEADLINE_MS = CONFIGURE_CPU_MS + 1000;
/** As NEARER_BUDGET_THAN_DEADLINE_MS, for a configure.js evaluation. */
export const CONFIGURE_NEARER_BUDGET_MS = (CONFIGURE_CPU_MS + CONFIGURE_DEADLINE_MS) / 2;

/**
 * Loads a plugin whose configure.js breaches its CPU budget and decides whether the evaluation was
 * cut by the process that evaluates configure.js files: the load refused as manifest_timeout (the
 * isolate's own cut; a watchdog's kill is refused as manifest_invalid), that process still the same
 * pid, and the kernel's count of its CPU time over the load nearer the budget than the deadline.
 */
export async function configureCutInProcess(env: CorpusEnv, load: () => Promise<unknown>): Promise<Outcome> {
  const pid = env.configurePid();
  if (pid === null) return through('no process evaluated configure.js files before the attack, so none could be watched');
  const before = readUsage(pid);
  let refusal: { code?: unknown; message?: unknown } | null = null;
  try {
    await load();
  } catch (err) {
    refusal = (err ?? {}) as { code?: unknown; message?: unknown };
  }
  const after = readUsage(pid);
  if (refusal === null) return through('the plugin loaded: its configure.js was not cut');
  const cpuMs = before && after ? after.cpuMs - before.cpuMs : null;
  const checks: [boolean, string][] = [
    [refusal.code === 'manifest_timeout', `the load was refused as ${String(refusal.code)} (${String(refusal.message)}), expected manifest_timeout`],
    [env.configurePid() === pid, `the configure process was replaced (pid ${pid} → ${env.configurePid()})`],
  ];
  if (USAGE_SUPPORTED) {
    checks.push([cpuMs !== null, `the kernel's CPU count of configure process ${pid} could not be read`]);
    checks.push([cpuMs === null || cpuMs <= CONFIGURE_NEARER_BUDGET_MS,
      `the configure process spent ${cpuMs} ms of CPU on the load: cut nearer its ${CONFIGURE_DEADLINE_MS} ms deadline than its ${CONFIGURE_CPU_MS} ms CPU budget`]);
  }
  return all(checks);
}
