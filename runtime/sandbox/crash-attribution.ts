// Whose fault a crash of a sandbox process is (design.md §5). A crash is charged to the plugin
// that caused it — the one the supervisor killed the process for (memory cap, watchdog), or the
// only plugin whose code was running — once, however many of its calls it cut. A plugin whose call
// was merely cut (plugins sharing a group process) is charged nothing, and if none of that call's
// requests had left, the call counts as never run, so a payout is started again later. A process
// that died while no plugin code was running (killed from outside) is nobody's fault. A watchdog
// kill of a shared process is charged to the plugin whose timed section held the process when the
// watchdog fired (section-marker.ts), when that names a plugin placed there: a neighbour that
// waited behind it past its own deadline ran nothing.
import type { SandboxFailure } from './protocol.ts';
import type { CrashInfo, SandboxReply } from './supervisor.ts';

/** The plugin a crash is charged to, or null when it cannot be anyone's doing. */
export function culpritOf(placed: ReadonlySet<string>, crash: CrashInfo): string | null {
  // Anything else the marker says (a plugin not placed here) is ignored: the watchdog's own rule.
  if (crash.kind === 'deadline' && crash.heldBy && placed.has(crash.heldBy)) return crash.heldBy;
  if (crash.culprit) return crash.culprit;
  const running = new Set(crash.inFlight.map((c) => c.plugin));
  if (running.size === 0) return null;
  if (placed.size === 1) return [...placed][0];
  return running.size === 1 ? [...running][0] : null;
}

/** What a failed reply means for plugin `key`, which lives in a process hosting `placed`. */
export function attributeFailure(key: string, placed: ReadonlySet<string>, reply: Extract<SandboxReply, { ok: false }>, requestsStarted: number): SandboxFailure {
  const crash = reply.crash;
  if (!crash) return reply.error;
  const culprit = culpritOf(placed, crash);
  if (culprit === key) {
    return { ...reply.error, kind: crash.kind === 'memory_limit' ? 'memory_limit' : 'sandbox_crashed', charged: true };
  }
  if (requestsStarted === 0) {
    return { kind: 'sandbox_unavailable', message: `${reply.error.message} (${culprit ? 'caused by another plugin in the same sandbox group' : 'not caused by a plugin'}; no request of this call had left, so nothing ran that matters)` };
  }
  return { ...reply.error, charged: true }; // not this plugin's fault: no breaker fault either
}
