// PAYOUT_SANDBOX_OPTIONS checked against the server's options before anything starts. The valid
// keys and their types come from defaultServerOptions() itself, so an option another module adds
// there is accepted here without a change. An unknown key is refused with the closest valid one
// (a typo would otherwise be ignored silently and the default kept), a value of the wrong type with
// the type expected.
import { defaultServerOptions } from './options.ts';
import { ENGINES } from '../sandbox/protocol.ts';
import { isEngineName as isEngine, nearestEngine } from '../plugins/engine-choice.ts';
import type { ServerOptions } from './options.ts';

/** Options that belong to flags or the start command, not to PAYOUT_SANDBOX_OPTIONS. */
const SET_BY_START: Partial<Record<keyof ServerOptions, string>> = {
  port: '--port', host: '--host', pluginsDir: '--plugins', dataDir: '--data', dbUrl: '--db or PAYOUT_SANDBOX_DB',
  adminToken: 'PAYOUT_SANDBOX_ADMIN_TOKEN', publicUrl: '--public-url', demo: '--demo', requireApproval: '--require-approval',
  trustProxy: '--trust-proxy', npmRegistry: '--npm-registry', instanceId: '(set by the server)',
  metricsToken: 'PAYOUT_SANDBOX_METRICS_TOKEN',
};

/**
 * Numbers where 0 means nothing a host could want: a webhook that may never wait, never run, take
 * no body or no delivery at all. Refused here, in the option's own name, instead of by the route
 * that uses them once the server is half started.
 */
const MUST_BE_POSITIVE: ReadonlySet<string> = new Set(['callbackWallMs', 'webhookQueueWaitMs', 'webhookBodyLimitBytes', 'webhookRatePerMinute']);

export class OptionsError extends Error {}

function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= y.length; j += 1) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[y.length];
}

/** The valid key nearest to `key` (by edit distance, case-insensitive). */
export function closestOption(key: string, keys: string[]): string {
  return keys.reduce((best, k) => (editDistance(key, k) < editDistance(key, best) ? k : best), keys[0]);
}

type Kind = 'number' | 'boolean' | 'string' | 'string[]' | 'object of string lists' | 'boolean or string' | 'engine' | 'object of engines';

function kindOf(key: string, sample: unknown): Kind {
  if (key === 'trustProxy') return 'boolean or string';
  if (key === 'engine') return 'engine';
  if (key === 'pluginEngines') return 'object of engines';
  if (Array.isArray(sample)) return 'string[]';
  if (sample && typeof sample === 'object') return 'object of string lists';
  return typeof sample as Kind;
}

function fits(kind: Kind, value: unknown): boolean {
  switch (kind) {
    case 'number': return typeof value === 'number' && Number.isFinite(value) && value >= 0;
    case 'boolean': return typeof value === 'boolean';
    case 'string': return typeof value === 'string';
    case 'boolean or string': return typeof value === 'boolean' || typeof value === 'string';
    case 'engine': return isEngine(value);
    case 'object of engines':
      return Boolean(value) && typeof value === 'object' && !Array.isArray(value) && Object.values(value as object).every(isEngine);
    case 'string[]': return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'object of string lists':
      return Boolean(value) && typeof value === 'object' && !Array.isArray(value)
        && Object.values(value as object).every((v) => Array.isArray(v) && v.every((s) => typeof s === 'string'));
  }
}

const KIND_TEXT: Record<Kind, string> = {
  number: 'a non-negative number', boolean: 'true or false', string: 'a string', 'boolean or string': 'true, false or a string',
  'string[]': 'a list of strings, e.g. ["http://127.0.0.1:8081"]', 'object of string lists': 'an object of string lists, e.g. {"name": ["a", "b"]}',
  engine: `an engine: ${ENGINES.join(' or ')}`, 'object of engines': `an object of plugin keys to engines, e.g. {"nimbuspay": "${ENGINES[ENGINES.length - 1]}"}`,
};

/** One line for an engine name that is not one: the engines there are, and the one meant if it is plain. */
function badEngine(source: string, where: string, value: unknown): OptionsError {
  const meant = nearestEngine(value);
  const near = meant ? `; did you mean '${meant}'?` : '';
  return new OptionsError(`${source}: '${where}' must be an engine, one of ${ENGINES.join(', ')}, not ${JSON.stringify(value)}${near}`);
}

/**
 * Parses and checks PAYOUT_SANDBOX_OPTIONS (raw JSON text). Throws OptionsError with one line that
 * says what is wrong, where, and how to fix it.
 */
export function parseOptionsJson(raw: string | undefined, source = 'PAYOUT_SANDBOX_OPTIONS'): Partial<ServerOptions> {
  if (raw === undefined || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new OptionsError(`${source} is not valid JSON (${(err as Error).message}); give a JSON object such as '{"transferWallMs":60000}'`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new OptionsError(`${source} must be a JSON object of server options, such as '{"transferWallMs":60000}'`);
  }
  return checkOptions(parsed as Record<string, unknown>, source);
}

export function checkOptions(given: Record<string, unknown>, source = 'PAYOUT_SANDBOX_OPTIONS'): Partial<ServerOptions> {
  const defaults = defaultServerOptions() as unknown as Record<string, unknown>;
  const tunable = Object.keys(defaults).filter((k) => !Object.hasOwn(SET_BY_START, k));
  for (const [key, value] of Object.entries(given)) {
    const flag = Object.hasOwn(SET_BY_START, key) ? SET_BY_START[key as keyof ServerOptions] : undefined;
    if (flag) throw new OptionsError(`${source}: '${key}' is set by ${flag}, not here; remove it from ${source}`);
    if (!Object.hasOwn(defaults, key)) {
      throw new OptionsError(`${source}: unknown option '${key}'; did you mean '${closestOption(key, tunable)}'? (the options are the fields of runtime/server/options.ts)`);
    }
    const kind = kindOf(key, defaults[key]);
    if (kind === 'engine' && !isEngine(value)) throw badEngine(source, key, value);
    if (kind === 'object of engines' && value && typeof value === 'object' && !Array.isArray(value)) {
      const wrong = Object.entries(value).find(([, engine]) => !isEngine(engine));
      if (wrong) throw badEngine(source, `${key}.${wrong[0]}`, wrong[1]);
    }
    if (!fits(kind, value)) throw new OptionsError(`${source}: '${key}' must be ${KIND_TEXT[kind]}, not ${JSON.stringify(value)}`);
    if (MUST_BE_POSITIVE.has(key) && !(Number.isInteger(value) && (value as number) > 0)) {
      throw new OptionsError(`${source}: '${key}' must be a whole number above 0, not ${JSON.stringify(value)} (default ${JSON.stringify(defaults[key])})`);
    }
  }
  return given as Partial<ServerOptions>;
}
