// A request to a sandbox process that never throws: a process that cannot be started answers as
// sandbox_unavailable (nothing ran), like every other failure the reply carries.
import type { SandboxProcess, SandboxReply } from './supervisor.ts';

export async function requestProcess(proc: SandboxProcess, req: Parameters<SandboxProcess['request']>[0], watchdogMs: number, what: string, plugin: string | null): Promise<SandboxReply> {
  try {
    return await proc.request(req, watchdogMs, what, plugin);
  } catch (err) {
    return { ok: false, error: { kind: 'sandbox_unavailable', message: `${what}: the sandbox process could not be started (${(err as Error)?.message ?? err}); nothing ran` } };
  }
}
