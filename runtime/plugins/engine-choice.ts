// Which engine a plugin runs on (design.md §5). Precedence: the administrator's choice on the admin
// page (kept in the store) > the plugin's entry in the pluginEngines option > the engine option. A
// stored name this build does not know (a choice made by a newer build, a hand-edited row) is
// ignored with a reason, never guessed at: the options decide then.
import { ENGINES } from '../sandbox/protocol.ts';
import type { EngineName } from '../sandbox/protocol.ts';
import type { Store } from '../store/store.ts';

/** Where the engine came from: the admin page, the pluginEngines option, or the engine option. */
export type EngineSource = 'admin' | 'pluginEngines' | 'engine';

export interface ResolvedEngine {
  name: EngineName;
  source: EngineSource;
  /** Set when a stored choice could not be used, saying why. */
  ignored: string | null;
}

export interface EngineSettings {
  store: Pick<Store, 'getPluginEngineChoice'>;
  /** The engine option: every plugin without a choice of its own. */
  engine: EngineName;
  /** The pluginEngines option. */
  pluginEngines: Record<string, EngineName>;
}

export function isEngineName(v: unknown): v is EngineName {
  return typeof v === 'string' && (ENGINES as readonly string[]).includes(v);
}

export async function resolveEngine(key: string, settings: EngineSettings): Promise<ResolvedEngine> {
  const choice = await settings.store.getPluginEngineChoice(key);
  if (choice && isEngineName(choice.engine)) return { name: choice.engine, source: 'admin', ignored: null };
  const ignored = choice
    ? `the engine '${choice.engine}' chosen on the admin page is not one this server has (${ENGINES.join(', ')}); choose one there again`
    : null;
  const option = Object.hasOwn(settings.pluginEngines, key) ? settings.pluginEngines[key] : undefined;
  if (option) return { name: option, source: 'pluginEngines', ignored };
  return { name: settings.engine, source: 'engine', ignored };
}

/** The environment variable the CLI and the SDK test kit read when no --engine / option is given. */
export const ENGINE_ENV = 'PAYOUT_SANDBOX_ENGINE';

/**
 * The engine a mistyped name meant, told apart only by case, spaces, dashes or underscores
 * ("QuickJS ", "isolated_vm"); null for anything else, so that "v8" is not answered with a guess.
 */
export function nearestEngine(text: unknown): EngineName | null {
  if (typeof text !== 'string') return null;
  const folded = text.toLowerCase().replace(/[-_ ]/g, '');
  return ENGINES.find((e) => e.replace(/-/g, '') === folded) ?? null;
}

/** An engine from text a person typed (a flag, an environment variable); one line naming the engines otherwise. */
export function parseEngine(text: string, where: string): EngineName {
  if (isEngineName(text)) return text;
  const near = nearestEngine(text);
  throw new Error(`${where} '${text}' is not an engine; use ${ENGINES.join(' or ')}${near ? ` (did you mean ${near}?)` : ''}`);
}

/** --engine if given, else PAYOUT_SANDBOX_ENGINE if set, else undefined (the host's default). */
export function engineFromFlagOrEnv(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): EngineName | undefined {
  if (flag !== undefined) return parseEngine(flag, '--engine');
  const fromEnv = env[ENGINE_ENV];
  return fromEnv ? parseEngine(fromEnv, ENGINE_ENV) : undefined;
}
