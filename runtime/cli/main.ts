// The payout-sandbox command line (design.md §8).
import fs from 'node:fs';
import { Command } from 'commander';
import { runCheck } from './commands/check.ts';
import { runCall } from './commands/call.ts';
import { runAudit } from './commands/audit.ts';
import { registerInstallCommands } from './commands/install.ts';
import { registerDevCommand } from './commands/dev.ts';
import { registerNewCommand } from './commands/new.ts';
import { registerTriggerCommand } from './commands/trigger.ts';
import { registerTypecheckCommand } from './commands/typecheck.ts';
import { registerBenchCommand } from './commands/bench.ts';
import { runStart } from '../server/start.ts';
import { demoCompanion } from '../demo/demo-start.ts';
import { withEngineFlag } from './engine-flag.ts';

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

const program = new Command();
program
  .name('payout-sandbox')
  .description('Run untrusted payout plugins in isolated-vm isolates behind a policed, audited host API')
  .version(packageVersion(), '-V, --version', 'print the version of payout-sandbox')
  .option('--debug', 'on an error, print its stack trace too')
  .showHelpAfterError('(add --help for usage)');

withEngineFlag(program
  .command('check')
  .description('bundle and load a plugin in a sandbox; print its manifest and capability summary, or why it cannot be accepted')
  .argument('<pluginDir>', 'the plugin folder (its name is the plugin key)')
  .option('--json', 'print one JSON object'))
  .action((dir: string, opts: { json?: boolean; engine?: string }) => runCheck(dir, opts));

program
  .command('start')
  .description('run the payout host: merchant API, payouts, webhooks, cron, IPN, admin API')
  .option('--port <port>', 'port to listen on (default 3000)')
  .option('--host <host>', 'address to listen on (default 127.0.0.1)')
  .option('--plugins <dir>', 'plugin folders (default ./plugins)')
  .option('--data <dir>', 'data folder: SQLite file, master key, admin token (default ./data)')
  .option('--db <url>', 'store: sqlite:<file> | sqlite::memory: | mongodb://host/db (default sqlite:<data>/payout-sandbox.db; or PAYOUT_SANDBOX_DB)')
  .option('--public-url <url>', "the host's public base URL, given to plugins as API_URL (default http://<host>:<port>/)")
  .option('--ipn-retries <n>', 'retry a failed merchant IPN up to n times with backoff (default 0: sent once, as the merchant API documents)')
  .option('--npm-registry <url>', 'the npm registry admin-page installs fetch from (default https://registry.npmjs.org)')
  .option('--require-approval', 'refuse plugin folders that were never installed or approved (default: trust a new folder on first sight)')
  .option('--trust-proxy <value>', "behind a reverse proxy: 'true' or the proxy's address/CIDR list, so plugins see the caller's IP")
  .option('--demo', 'also run a fake provider and a fake merchant on loopback and wire them in')
  .action((opts) => runStart(opts, opts.demo ? demoCompanion() : undefined));

withEngineFlag(program
  .command('audit')
  .description("the security reviewer's report: host modules, URLs in the source vs requested and granted origins, config keys, db operations, callbacks, cron, risk flags")
  .argument('<pluginDir>', 'the plugin folder')
  .option('--grant <origin>', 'an origin the host granted (repeatable), to compare with what the code uses', collect, [])
  .option('--json', 'print one JSON object'))
  .action((dir: string, opts) => runAudit(dir, opts));

withEngineFlag(program
  .command('call')
  .description('run one method (getFields, transfer, cron, a callback name) in a local sandbox; print the result and the audit trail')
  .argument('<pluginDir>', 'the plugin folder')
  .argument('<method>', 'getFields | transfer | cron | initCron | describe | <callback name>')
  .option('--args <json>', 'arguments as JSON: an array for getFields/transfer, {method, post, get, headers, rawBody} for a callback')
  .option('--config <json>', 'config values as a JSON object (secret keys are encrypted as on a server)')
  .option('--grant <origin>', 'allow requests to this origin (repeatable), e.g. http://127.0.0.1:8080', collect, [])
  .option('--json', 'print one JSON object'))
  .action((dir: string, method: string, opts) => runCall(dir, method, opts));

registerInstallCommands(program);
registerDevCommand(program);
registerNewCommand(program);
registerTriggerCommand(program);
registerTypecheckCommand(program);
registerBenchCommand(program);

// Every error a command does not report itself ends as one line (what, and how to fix it where the
// message says), never a stack trace, unless --debug asks for one.
try {
  await program.parseAsync(process.argv);
} catch (err) {
  const command = program.args[0] ?? '';
  process.stderr.write(`payout-sandbox${command ? ` ${command}` : ''}: ${(err as Error)?.message ?? String(err)}\n`);
  if (process.argv.includes('--debug')) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
  process.exitCode = 1;
}
