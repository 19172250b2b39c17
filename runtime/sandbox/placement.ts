// Which sandbox process a plugin runs in (design.md §5). By default every plugin gets a process of
// its own: the process is the only boundary that holds against everything a plugin can do to its
// host — an engine abort on out-of-memory, memory outside the isolate heap, a thread blocked for
// good, a hang only SIGKILL ends. A host may put plugins it trusts together into a named group
// that shares one process (less memory per plugin; they then share each other's fate).
// configure.js of every plugin is evaluated in one more process of its own, holding no plugin.
import { SandboxProcess } from './supervisor.ts';
import type { SandboxEvents, SupervisorOptions } from './supervisor.ts';

export interface PlacementOptions {
  /** Named groups of plugin keys that share one process; every other plugin runs alone. */
  groups?: Record<string, string[]>;
  supervisor?: Partial<SupervisorOptions>;
}

export class ProcessPlacement {
  private readonly groupOf = new Map<string, string>();
  private readonly byGroup = new Map<string, SandboxProcess>();
  private readonly members = new Map<SandboxProcess, Set<string>>();
  private readonly options: PlacementOptions;
  /** Events of a process; `self` names the process they come from (wired before it starts). */
  private readonly eventsFor: (self: () => SandboxProcess) => SandboxEvents;
  private manifestProcess: SandboxProcess | null = null;

  constructor(options: PlacementOptions, eventsFor: (self: () => SandboxProcess) => SandboxEvents) {
    this.options = options;
    this.eventsFor = eventsFor;
    for (const [group, keys] of Object.entries(options.groups ?? {})) for (const key of keys) this.groupOf.set(key, group);
  }

  /** The process `key` runs in, created (not yet started) when it is the first of its group. */
  place(key: string): SandboxProcess {
    const group = this.groupOf.get(key);
    const name = group ? `group:${group}` : `plugin:${key}`;
    let proc = this.byGroup.get(name);
    if (!proc) {
      proc = this.create(name);
      this.byGroup.set(name, proc);
      this.members.set(proc, new Set());
    }
    this.members.get(proc)?.add(key);
    return proc;
  }

  /** Takes `key` out of its process; a process left with no plugin is closed. */
  async remove(key: string, proc: SandboxProcess): Promise<void> {
    const members = this.members.get(proc);
    members?.delete(key);
    if (members && members.size === 0) {
      this.members.delete(proc);
      for (const [name, p] of this.byGroup) if (p === proc) this.byGroup.delete(name);
      await proc.close();
    }
  }

  /** The plugins placed in `proc`. */
  pluginsIn(proc: SandboxProcess): ReadonlySet<string> {
    return this.members.get(proc) ?? new Set();
  }

  /** Whether `proc` hosts exactly one plugin: then all it does is that plugin's. */
  exclusive(proc: SandboxProcess): boolean {
    return this.pluginsIn(proc).size === 1;
  }

  /** The process that evaluates configure.js files (no plugin lives there). */
  manifests(): SandboxProcess {
    if (!this.manifestProcess) {
      this.manifestProcess = this.create('configure');
    }
    return this.manifestProcess;
  }

  private create(name: string): SandboxProcess {
    const holder: { proc: SandboxProcess | null } = { proc: null };
    const proc = new SandboxProcess(name, this.eventsFor(() => holder.proc as SandboxProcess), this.options.supervisor);
    holder.proc = proc;
    return proc;
  }

  all(): SandboxProcess[] {
    return [...this.byGroup.values()];
  }

  async close(): Promise<void> {
    const procs = [...this.byGroup.values(), ...(this.manifestProcess ? [this.manifestProcess] : [])];
    this.byGroup.clear();
    this.members.clear();
    this.manifestProcess = null;
    await Promise.all(procs.map((p) => p.close()));
  }
}
