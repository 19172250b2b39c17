// What the server does with what a sandbox process sends it besides replies: host calls, log
// lines, webhook answers, faults, crashes and usage samples. Separate from sandbox-host.ts because
// this is the boundary a compromised sandbox process speaks across: each message is checked here
// against the process it came from before it reaches a plugin's call, log, answer or breaker,
// all in one place to read. sandbox-host.ts owns the tables these read (host-tables.ts).
import { culpritOf } from './crash-attribution.ts';
import { BUSY_NICE, SANDBOX_NICE } from './process-usage.ts';
import { scrubAnswer } from './result-scrub.ts';
import type { CallbackResponse, FromSandbox } from './protocol.ts';
import type { CrashInfo, SandboxEvents, SandboxProcess } from './supervisor.ts';
import type { HostTables } from './host-tables.ts';

/** Builds the events of the sandbox process `self()` (ProcessPlacement calls this for each process it starts). */
export function processEvents(self: () => SandboxProcess, host: HostTables): SandboxEvents {
  return {
    onHostCall: (msg) => onHostCall(host, self(), msg),
    // As for host calls (onHostCall): a sandbox process speaks only for the plugins it hosts, so
    // a compromised process can neither write another plugin's log nor answer its webhooks.
    onLog: (msg) => {
      const call = host.calls.get(msg.callId);
      if (call && call.plugin.key === msg.plugin && call.plugin.process === self()) host.options.handler.log(msg.plugin, msg.callId, msg.level, msg.text);
    },
    onRespond: (msg) => {
      const call = host.calls.get(msg.callId);
      if (!call || call.plugin.process !== self() || !call.onRespond) return;
      // Charged before the answer goes out: the caller's next call must see this one's reads.
      if (msg.localReads && typeof msg.localReads === 'object') host.options.handler.noteLocalHostCalls?.(call.ctx, msg.localReads);
      // As for results (sandbox-host.ts scrubResult): an answer too large to scrub quickly is a failed answer.
      const answer = scrubAnswer(host.options.handler, call.plugin.key, msg.response);
      call.onRespond(answer.ok ? answer.value as CallbackResponse : { status: 500, headers: {}, body: '' });
    },
    onFault: (msg) => {
      const plugin = host.plugins.get(msg.plugin);
      if (plugin && plugin.process === self()) plugin.loadedGeneration = -1;
    },
    onCrash: (info) => onCrash(host, self(), info),
    // The kernel's count of the process's CPU time is the plugin's when the process is its
    // alone; in a shared group, each call's isolate CPU time is charged instead (sandbox-host.ts invoke).
    // So is the server's own time on that process's messages (decoding them, answering its
    // host calls, encoding replies): it is spent on the one thread every plugin and every HTTP
    // request shares, and a plugin can make it outgrow its process's CPU — a loop of host
    // calls refused at once kept the server busy 1.4 ms for each 1 ms its process was charged.
    onUsage: (_usage, cpuDeltaMs, serverMs) => {
      const proc = self();
      if (!host.placement().exclusive(proc)) return;
      for (const key of host.placement().pluginsIn(proc)) {
        const plugin = host.plugins.get(key);
        if (!plugin) continue;
        plugin.gate.charge(cpuDeltaMs + serverMs);
        // Past half its budget, a plugin runs at a lower priority than every other process, so
        // a flood it serves slows its neighbours less; back under a quarter, as before.
        const share = plugin.gate.budgetShare();
        if (share > 0.5) proc.renice(BUSY_NICE);
        else if (share < 0.25) proc.renice(SANDBOX_NICE);
      }
    },
  };
}

function onHostCall(host: HostTables, from: SandboxProcess, msg: Extract<FromSandbox, { t: 'hostCall' }>): void {
  const call = host.calls.get(msg.callId);
  // The plugin identity comes from our own call table, checked against the process the message
  // came from: a sandbox process cannot speak for a plugin it does not host.
  if (!call || call.plugin.key !== msg.plugin || call.plugin.process !== from) {
    from.sendHostResult(msg.hostCallId, false, { message: `${msg.capability}: no call of this plugin is in progress`, code: 'NO_CALL' });
    return;
  }
  call.trace?.mark('hostArrive', from.arrivedAt);
  call.ctx.counters.hostCalls++;
  // Reads the process answered itself count toward the call's caps before this call is admitted.
  if (msg.localReads && typeof msg.localReads === 'object') host.options.handler.noteLocalHostCalls?.(call.ctx, msg.localReads);
  if (msg.capability === 'http.request') call.ctx.counters.requestsStarted++;
  host.options.handler.handle(call.ctx, msg.capability, msg.args).then(
    (reply) => {
      call.trace?.mark('hostAnswer');
      from.sendHostResult(msg.hostCallId, reply.ok, reply.ok ? reply.value : reply.error);
    },
    (err) => from.sendHostResult(msg.hostCallId, false, { message: `${msg.capability} failed: ${(err as Error).message}` }),
  );
}

function onCrash(host: HostTables, proc: SandboxProcess, info: CrashInfo): void {
  for (const key of host.placement().pluginsIn(proc)) {
    const plugin = host.plugins.get(key);
    if (plugin) plugin.loadedGeneration = -1;
  }
  const culprit = culpritOf(host.placement().pluginsIn(proc), info);
  const plugin = culprit ? host.plugins.get(culprit) : undefined;
  if (!plugin || plugin.process !== proc) return;
  // Over its memory cap a plugin is paused at once: the next call would grow it again.
  if (info.kind === 'memory_limit') plugin.breaker.trip(info.kind, info.reason);
  else plugin.breaker.recordFault(info.kind === 'deadline' ? 'sandbox_crashed' : info.kind, info.reason);
  host.options.onCrashCharged?.(plugin.key, info.kind, info.reason);
}
