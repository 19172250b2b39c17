// The server's tables of the sandbox: the plugins it registered and the calls in flight. Kept by
// sandbox-host.ts; read by process-events.ts when a sandbox process sends a message.
import type { PluginBundle } from '../bundler/bundle-plugin.ts';
import type { HostCallContext } from '../../host-api/capability.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { PluginGate } from './plugin-gate.ts';
import type { ProcessPlacement } from './placement.ts';
import type { ServerCallTrace } from './call-trace.ts';
import type {
  CallbackResponse, EngineName, IsolateSetup, LoadResult, PluginDescription, PluginLimits, SandboxFailure,
} from './protocol.ts';
import type { SandboxProcess } from './supervisor.ts';
import type { SandboxHostOptions } from './sandbox-host-types.ts';

export interface RegisteredPlugin {
  key: string;
  bundle: PluginBundle;
  setup: IsolateSetup;
  limits: PluginLimits;
  process: SandboxProcess;
  breaker: CircuitBreaker;
  gate: PluginGate;
  loadedGeneration: number;      // generation of the process the isolate lives in; -1 = not loaded
  loading: Promise<LoadOutcome> | null;
  description: PluginDescription | null;
  lastLoad: LoadResult | null;
  engine: EngineName;
  /** Successful loads of this registration: a push of config values belongs to one (config-push.ts). */
  loads: number;
}
export type LoadOutcome = { ok: true } | { ok: false; error: SandboxFailure };

/** A call in flight: the context its host calls run in, its plugin, where a webhook's answer goes. */
export interface CallInFlight {
  ctx: HostCallContext;
  plugin: RegisteredPlugin;
  onRespond?: (r: CallbackResponse) => void;
  trace?: ServerCallTrace;
}

/** What a sandbox process's messages are checked against and reach (process-events.ts). */
export interface HostTables {
  readonly plugins: ReadonlyMap<string, RegisteredPlugin>;
  readonly calls: ReadonlyMap<string, CallInFlight>;
  readonly options: SandboxHostOptions;
  /** A function: the placement is built with these events, so it is read when a message arrives. */
  placement(): ProcessPlacement;
}
