// Entry of a sandbox process: holds the plugin isolates, answers the server over fd 3, and never
// holds a secret at rest or a database handle. Started by supervisor.ts with --no-node-snapshot.
import net from 'node:net';
import { createRequire } from 'node:module';
import { FramedChannel } from '../channel.ts';
import type { FromSandbox, IsolateStats, RespondMessage, ToSandbox } from '../protocol.ts';
import { LoadFailure } from './load-failure.ts';
import { createEngine } from './engine.ts';
import type { IsolateHooks, PluginEngine } from './engine.ts';
import { libraryFromSource } from './library-script.ts';
import type { LibrarySource } from './library-script.ts';
import { extractManifest } from './manifest-isolate.ts';
import { LocalConfigReads } from './config-snapshot.ts';
import type { LocalAnswer } from './config-snapshot.ts';
import { CallTraces } from './call-trace.ts';
import { SECTION_MARKER_FD, useSectionMarker } from '../section-marker.ts';

const channel = new FramedChannel<FromSandbox, ToSandbox>(new net.Socket({ fd: 3, readable: true, writable: true }));
// Whose timed section runs, for the supervisor's watchdog in a shared group (section-marker.ts).
useSectionMarker(SECTION_MARKER_FD);
const isolates = new Map<string, PluginEngine>();
/** Loads under way (an engine is being created): a newer load or an unload of the plugin supersedes them. */
const loading = new Map<string, number>();
let loadSeq = 0;
const hostCallOwners = new Map<number, PluginEngine>();
let hostCallSeq = 0;
/** Non-secret config values the server pushed, answered here without a round trip. */
const configReads = new LocalConfigReads();
const traces = new CallTraces();

/**
 * A host call leaves for the server unless it is a config read this process may answer: then the
 * answer is returned to the engine's callback that made the call, which hands it back to the
 * prelude as a copy in its reply (the plugin's promise settles in the same entry). Nothing here
 * does I/O or enters an engine; the engine charges the time to the call.
 */
function sendHostCall(plugin: string, hostCallId: number, callId: string, capability: string, args: unknown): LocalAnswer | null {
  const local = configReads.answer(plugin, callId, hostCallId, capability, args);
  if (local) return local;
  const localReads = configReads.answeredSoFar(callId);
  traces.hostCallSent(callId, hostCallId);
  channel.send({ t: 'hostCall', hostCallId, plugin, callId, capability, args, ...(localReads ? { localReads } : {}) });
  return null;
}

/**
 * Callback answers not sent yet, by call id. A callback that ends by answering (res.end, then
 * return) reports its answer and its result in the same entry into the engine: the reply then
 * carries the answer (replyWith), one frame instead of two, each of which the server decodes on
 * the thread every request shares. An answer whose call goes on leaves on its own before the
 * process waits for anything (flushResponds), so the caller still gets it as soon as the plugin
 * gave it.
 */
const unsentResponds = new Map<string, RespondMessage>();

function flushResponds(): void {
  const responds = [...unsentResponds.values()];
  unsentResponds.clear();
  for (const respond of responds) {
    try {
      channel.send(respond);
    } catch {
      // An answer that cannot be framed is no answer (the caller is told the plugin gave none);
      // thrown from here it would end the process and every other plugin's calls in it.
    }
  }
}

function holdRespond(respond: RespondMessage): void {
  // A second answer of the same call goes after the first, as it always did (the server keeps the first).
  if (unsentResponds.has(respond.callId)) flushResponds();
  // Two microtask hops: the engine settles a call inside the entry that reported its result, so
  // the reply's send is queued one hop after an answer given in that entry. No timer or immediate
  // per delivery: the process's event loop turns as it did when every answer left at once.
  if (unsentResponds.size === 0) queueMicrotask(() => queueMicrotask(flushResponds));
  unsentResponds.set(respond.callId, respond);
}

/** The call's unsent answer, if any, to ride with its reply. */
function replyWith(callId: string): { respond?: RespondMessage } {
  const respond = unsentResponds.get(callId);
  if (!respond) return {};
  unsentResponds.delete(callId);
  return { respond };
}

function hooksFor(plugin: string): IsolateHooks {
  return {
    nextHostCallId: () => ++hostCallSeq,
    routeHostCall: (id, owner) => {
      if (owner) hostCallOwners.set(id, owner);
      else hostCallOwners.delete(id);
    },
    sendHostCall: (hostCallId, callId, capability, args) => sendHostCall(plugin, hostCallId, callId, capability, args),
    sendLog: (callId, level, text) => channel.send({ t: 'log', plugin, callId, level, text }),
    sendRespond: (callId, response) => {
      const localReads = configReads.answeredSoFar(callId);
      holdRespond({ t: 'respond', callId, response, ...(localReads ? { localReads } : {}) });
    },
    sendFault: (kind, message) => channel.send({ t: 'fault', plugin, kind, message }),
  };
}

/**
 * The last bundles this process was sent, by the server's sha256 of the plugin's exact code
 * (bundle-plugin.ts): a reload of the same code arrives as that hash only. Bounded; a load naming
 * a bundle no longer held is answered `bundleMissing` and the server sends the code.
 */
const bundles = new Map<string, string>();
const MAX_BUNDLES_KEPT = 8;

function bundleCode(msg: Extract<ToSandbox, { t: 'load' }>): string | null {
  const code = msg.code ?? bundles.get(msg.codeSha256);
  if (code === undefined) return null;
  bundles.delete(msg.codeSha256);
  bundles.set(msg.codeSha256, code);
  if (bundles.size > MAX_BUNDLES_KEPT) bundles.delete(bundles.keys().next().value!);
  return code;
}

/**
 * The shared library scripts this process was sent (one per server build of it; two kept across
 * a change), by the sha256 of their text as this process computed it: the key of the code cache
 * the engine compiles them with is never a name the server chose (prelude-scripts.ts).
 */
const libraries = new Map<string, LibrarySource>();
const MAX_LIBRARIES_KEPT = 2;

/** The load's library: `undefined` when it names one this process does not hold. */
function libraryOf(msg: Extract<ToSandbox, { t: 'load' }>): LibrarySource | null | undefined {
  if (!msg.library) return null;
  let library = libraries.get(msg.library.sha256);
  if (msg.library.source !== null) {
    library = libraryFromSource(msg.library.source);
    if (library.sha256 !== msg.library.sha256) throw new LoadFailure('load_failed', `the library script sent does not match its sha256 ${msg.library.sha256.slice(0, 12)}`);
  }
  if (!library) return undefined;
  libraries.delete(library.sha256);
  libraries.set(library.sha256, library);
  if (libraries.size > MAX_LIBRARIES_KEPT) libraries.delete(libraries.keys().next().value!);
  return library;
}

function handle(msg: ToSandbox): void {
  switch (msg.t) {
    case 'load': {
      const code = bundleCode(msg);
      const library = libraryOf(msg);
      if (code === null || library === undefined) {
        const missing = code === null ? `bundle ${msg.codeSha256.slice(0, 12)}` : `library ${msg.library!.sha256.slice(0, 12)}`;
        channel.send({ t: 'reply', id: msg.id, ok: false, error: { kind: 'not_loaded', message: `${missing} is not held by this process`, bundleMissing: true } });
        return;
      }
      configReads.drop(msg.plugin);
      isolates.get(msg.plugin)?.dispose('isolate_reset', 'the plugin is being reloaded');
      isolates.delete(msg.plugin);
      const load = ++loadSeq;
      loading.set(msg.plugin, load);
      const fail = (err: unknown) => {
        const kind = err instanceof LoadFailure ? err.kind : 'load_failed';
        const overloaded = err instanceof LoadFailure && err.overloaded ? { overloaded: true } : {};
        channel.send({ t: 'reply', id: msg.id, ok: false, error: { kind, message: String((err as Error)?.message ?? err), ...overloaded } });
      };
      createEngine(msg.engine, msg.plugin, msg.limits, hooksFor(msg.plugin)).then((engine) => {
        if (loading.get(msg.plugin) !== load) {
          engine.dispose('isolate_reset', 'the plugin was reloaded or unloaded while its engine was starting');
          fail(new LoadFailure('isolate_reset', `plugin '${msg.plugin}' was reloaded or unloaded while its engine was starting`));
          return;
        }
        loading.delete(msg.plugin);
        try {
          const value = engine.load(msg.callId, code, msg.cachedData, msg.setup, library);
          isolates.set(msg.plugin, engine);
          channel.send({ t: 'reply', id: msg.id, ok: true, value });
        } catch (err) {
          engine.dispose('load_failed', 'load failed');
          fail(err);
        }
      }, (err) => {
        if (loading.get(msg.plugin) === load) loading.delete(msg.plugin);
        fail(err);
      }).catch(() => {
        // Only a send on a closed channel throws here: the server is gone and shutdown() runs.
      });
      return;
    }
    case 'unload':
      configReads.drop(msg.plugin);
      loading.delete(msg.plugin);
      isolates.get(msg.plugin)?.dispose('isolate_reset', 'the plugin was unloaded');
      isolates.delete(msg.plugin);
      channel.send({ t: 'reply', id: msg.id, ok: true, value: null });
      return;
    case 'invoke': {
      const isolate = isolates.get(msg.plugin);
      if (!isolate || isolate.isDisposed) {
        channel.send({ t: 'reply', id: msg.id, ok: false, error: { kind: 'not_loaded', message: `plugin '${msg.plugin}' is not loaded in this sandbox process` } });
        return;
      }
      if (msg.trace) traces.begin(msg.callId, channel.arrivedAt);
      const counted = configReads.begin(msg.plugin, msg.callId, msg.method, msg.args, msg.minuteLeft);
      traces.mark(msg.callId, 'enter');
      void isolate.invoke(msg.callId, msg.method, msg.args, msg.wallMs, msg.cpuMs).then((outcome) => {
        traces.mark(msg.callId, 'result');
        const reads = counted ? configReads.end(msg.callId) : undefined;
        if (reads) outcome.stats.configReads = reads;
        const trace = traces.end(msg.callId);
        if (trace) outcome.stats.trace = trace;
        const respond = replyWith(msg.callId);
        try {
          if (outcome.ok) channel.send({ t: 'reply', id: msg.id, ok: true, value: outcome.value, stats: outcome.stats, ...respond });
          else channel.send({ t: 'reply', id: msg.id, ok: false, error: outcome.error, stats: outcome.stats, ...respond });
        } catch (err) {
          // A result that cannot be framed (too deep for this process's stack, over the frame
          // limit) fails its call; thrown from here it would be an unhandled rejection that ends
          // the process and every other plugin's calls in it. Its answer goes with the failure,
          // unless the answer is what could not be framed.
          const failed = { t: 'reply' as const, id: msg.id, ok: false as const, error: { kind: 'bad_result' as const, message: `the result could not be handed to the host (${(err as Error)?.message ?? err})` }, stats: outcome.stats };
          try {
            channel.send({ ...failed, ...respond });
          } catch {
            channel.send(failed);
          }
        }
      });
      return;
    }
    case 'config':
      configReads.set(msg.plugin, msg.snapshot);
      return;
    case 'hostResult': {
      const traced = traces.hostCallAnswered(msg.hostCallId, channel.arrivedAt);
      configReads.result(msg.hostCallId, msg.ok, msg.value);
      hostCallOwners.get(msg.hostCallId)?.resume(msg.hostCallId, msg.ok, msg.value);
      if (traced !== undefined) traces.mark(traced, 'resumed');
      return;
    }
    case 'manifest': {
      const result = extractManifest(msg.code, msg.cpuMs);
      if (result.ok) channel.send({ t: 'reply', id: msg.id, ok: true, value: result.value });
      else channel.send({ t: 'reply', id: msg.id, ok: false, error: result.error });
      return;
    }
    case 'stats': {
      const perPlugin: IsolateStats[] = [];
      for (const [plugin, isolate] of isolates) {
        const h = isolate.heapStats();
        perPlugin.push({ plugin, heapUsedBytes: h.used, heapLimitBytes: h.limit, externalBytes: h.external });
      }
      channel.send({ t: 'reply', id: msg.id, ok: true, value: { rss: process.memoryUsage().rss, isolates: perPlugin } });
      return;
    }
  }
}

channel.onMessage = (msg) => {
  try {
    handle(msg);
  } catch (err) {
    if ('id' in msg && typeof msg.id === 'number') {
      channel.send({ t: 'reply', id: msg.id, ok: false, error: { kind: 'plugin_error', message: `sandbox process error: ${(err as Error).message}` } });
    }
  }
};

// When the server goes away, dispose the isolates and let the process end by itself: exiting
// right after heavy isolate work has crashed Node (design.md §10).
channel.onClose = () => shutdown();
channel.onError = () => shutdown();
let shuttingDown = false;
function shutdown(): void {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const isolate of isolates.values()) isolate.dispose('isolate_reset', 'the sandbox process is shutting down');
  isolates.clear();
  loading.clear();
  hostCallOwners.clear();
  channel.close();
}

const ivmVersion = (createRequire(import.meta.url)('isolated-vm/package.json') as { version: string }).version;
channel.send({ t: 'ready', pid: process.pid, node: process.version, isolatedVm: ivmVersion });
