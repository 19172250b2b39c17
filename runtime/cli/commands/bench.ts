// `payout-sandbox bench [--quick] [--json] [--out FILE] [--only a,b] [--engine a,b]`: the benchmarks (bench/).
// The harness, with its in-process baseline loader, is imported only when this command runs:
// the server and the other commands never load it.
import type { Command } from 'commander';
import { parseEngine } from '../../plugins/engine-choice.ts';
import { ENGINES } from '../../sandbox/protocol.ts';
import type { EngineName } from '../../sandbox/protocol.ts';

export interface BenchCliOptions {
  quick?: boolean;
  json?: boolean;
  out?: string;
  only?: string;
  engine?: string;
}

export async function runBenchCommand(opts: BenchCliOptions): Promise<void> {
  const bench = await import('../../../bench/run-bench.ts');
  const only = (opts.only ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((s) => !(bench.SCENARIOS as readonly string[]).includes(s));
  if (unknown.length) {
    process.stderr.write(`error: --only ${unknown.join(',')}: scenarios are ${bench.SCENARIOS.join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  let engines: EngineName[];
  try {
    engines = (opts.engine ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((e) => parseEngine(e, '--engine'));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const report = await bench.runBench({ quick: opts.quick, json: opts.json, only: only as typeof bench.SCENARIOS[number][], engines });
    const file = bench.writeReport(report, opts.out ?? 'bench-results/latest.json');
    if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(`${bench.formatReport(report)}\nwritten to ${file}\n`);
    if (report.meta.warning) process.stderr.write(`bench: ${report.meta.warning}\n`);
    for (const p of report.meta.problems) process.stderr.write(`bench: ${p}\n`);
  } catch (err) {
    process.stderr.write(`error: bench failed: ${String((err as Error)?.stack ?? err)}\n`);
    process.exitCode = 1;
  }
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('benchmarks: the price of isolation (per-call cost, webhook throughput, start-up, density, cron sweeps, a noisy neighbour) against the same plugins run in process, per engine')
    .option('--quick', 'a short run (seconds): smaller samples and sweeps')
    .option('--json', 'print one JSON object on stdout (progress goes to stderr)')
    .option('--out <file>', 'where to write the JSON (default bench-results/latest.json)')
    .option('--only <scenarios>', 'comma-separated subset: call, webhook, startup, density, sweep, noisy')
    .option('--engine <engines>', `comma-separated engines to measure (default every one, side by side): ${ENGINES.join(', ')}`)
    .action((opts: BenchCliOptions) => runBenchCommand(opts));
}
