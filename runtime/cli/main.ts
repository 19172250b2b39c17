// The payout-sandbox command line (design.md §8).
import { Command } from 'commander';
import { runCheck } from './commands/check.ts';
import { runCall } from './commands/call.ts';
import { runAudit } from './commands/audit.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

const program = new Command();
program
  .name('payout-sandbox')
  .description('Run untrusted payout plugins in isolated-vm isolates behind a policed, audited host API')
  .showHelpAfterError();

program
  .command('check')
  .description('bundle and load a plugin in a sandbox; print its manifest and capability summary, or why it cannot be accepted')
  .argument('<pluginDir>', 'the plugin folder (its name is the plugin key)')
  .option('--json', 'print one JSON object')
  .action((dir: string, opts: { json?: boolean }) => runCheck(dir, opts));

program
  .command('audit')
  .description("the security reviewer's report: host modules, URLs in the source vs requested and granted origins, config keys, db operations, callbacks, cron, risk flags")
  .argument('<pluginDir>', 'the plugin folder')
  .option('--grant <origin>', 'an origin the host granted (repeatable), to compare with what the code uses', collect, [])
  .option('--json', 'print one JSON object')
  .action((dir: string, opts) => runAudit(dir, opts));

program
  .command('call')
  .description('run one method (getFields, transfer, cron, a callback name) in a local sandbox; print the result and the audit trail')
  .argument('<pluginDir>', 'the plugin folder')
  .argument('<method>', 'getFields | transfer | cron | initCron | describe | <callback name>')
  .option('--args <json>', 'arguments as JSON: an array for getFields/transfer, {method, post, get, headers, rawBody} for a callback')
  .option('--config <json>', 'config values as a JSON object (secret keys are encrypted as on a server)')
  .option('--grant <origin>', 'allow requests to this origin (repeatable), e.g. http://127.0.0.1:8080', collect, [])
  .option('--json', 'print one JSON object')
  .action((dir: string, method: string, opts) => runCall(dir, method, opts));

await program.parseAsync(process.argv);
