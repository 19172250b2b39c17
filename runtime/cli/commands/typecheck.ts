// `payout-sandbox typecheck <pluginDir>`: the plugin's code against the SDK types, one line per
// error (what `dev` prints after each reload and the scaffold's tests assert), exit 1 on errors.
import type { Command } from 'commander';
import { typecheckPluginSync } from '../../../sdk/typecheck.ts';

export function runTypecheck(dir: string): void {
  const r = typecheckPluginSync(dir);
  if (!r.checked) {
    process.stderr.write('payout-sandbox typecheck: typescript is not installed here; install it (npm i -D typescript) to typecheck\n');
    process.exitCode = 1;
    return;
  }
  for (const e of r.errors) process.stdout.write(`${e}\n`);
  process.stdout.write(r.errors.length ? `${r.errors.length} type error${r.errors.length === 1 ? '' : 's'} in ${dir}\n` : `types: ok (${r.files} file${r.files === 1 ? '' : 's'})\n`);
  if (r.errors.length) process.exitCode = 1;
}

export function registerTypecheckCommand(program: Command): void {
  program
    .command('typecheck')
    .description("typecheck a plugin's code with the SDK types (its test/ folder excluded); exit 1 on errors")
    .argument('<pluginDir>', 'the plugin folder')
    .action((dir: string) => runTypecheck(dir));
}
