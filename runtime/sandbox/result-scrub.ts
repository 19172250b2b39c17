// What a plugin sends back to the server (a call's result, a callback's answer, a failure's text)
// leaves with the plugin's own secrets taken out by value: a careless plugin echoes them.
// Scrubbing walks every value on the server's thread, about 1 µs a value, so a 4 MB answer of
// small values held it for 0.4–1.4 s, which the plugin could repeat every call: an answer holding
// more than MAX_RESULT_VALUES values is refused instead of walked.
import type { HostCallHandler } from '../../host-api/capability.ts';
import type { SandboxFailure } from './protocol.ts';
import { MAX_RESULT_VALUES, holdsMoreThan } from './result-values.ts';

type Scrubbers = Pick<HostCallHandler, 'scrub' | 'scrubFor'>;

/** A result or answer of `plugin` without its secrets, or why it was refused. */
export function scrubAnswer(handler: Scrubbers, plugin: string, value: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  if (holdsMoreThan(value, MAX_RESULT_VALUES)) {
    return { ok: false, message: `${plugin} returned more than ${MAX_RESULT_VALUES} values (strings, numbers, keys, arrays and objects together); the limit keeps the server's scrubbing of a result short` };
  }
  return { ok: true, value: handler.scrubFor ? handler.scrubFor(plugin, value) : value };
}

/** A plugin's error text can carry any value it read, secrets included. */
export function scrubFailure(handler: Scrubbers, error: SandboxFailure): SandboxFailure {
  const scrub = handler.scrub;
  if (!scrub) return error;
  return { ...error, message: scrub(error.message), ...(error.thrown ? { thrown: { ...error.thrown, message: scrub(error.thrown.message) } } : {}) };
}
