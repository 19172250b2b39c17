// `--engine <name>` of the commands that load a plugin (check, audit, call, dev, trigger): which
// engine to run it on. Without the flag, PAYOUT_SANDBOX_ENGINE, else the default engine.
import type { Command } from 'commander';
import { ENGINE_ENV } from '../plugins/engine-choice.ts';
import { DEFAULT_ENGINE, ENGINES } from '../sandbox/protocol.ts';

const ENGINE_FLAG_HELP = `engine to run the plugin on: ${ENGINES.join(' | ')} (default ${ENGINE_ENV} or ${DEFAULT_ENGINE})`;

/** Adds the flag; its value is checked when the command runs (engineFromFlagOrEnv), in the command's own error line. */
export function withEngineFlag(command: Command): Command {
  return command.option('--engine <name>', ENGINE_FLAG_HELP);
}
