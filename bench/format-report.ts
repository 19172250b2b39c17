// The human-readable table of a bench report (`payout-sandbox bench` without --json): every
// headline figure with one column per engine, then each engine's detailed tables, then the goals
// with the engine named on each row.
import type { BenchReport } from './run-bench.ts';
import { engineColumnsTable } from './format-engines.ts';
import type { StartupResult } from './scenarios/startup.ts';
import type { WebhookResult } from './scenarios/webhook.ts';
import { CALL_VARIANTS } from './scenarios/call-overhead.ts';
import type { CallVariant } from './scenarios/call-overhead.ts';
import { formatNoisyNeighbour } from './format-noisy.ts';
import { SEGMENTS } from './lib/call-segments.ts';
import type { SegmentSummary } from './lib/call-segments.ts';

const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));

type Table = (title: string, head: string[], rows: string[][]) => void;

/** The human-readable table. */
export function formatReport(r: BenchReport): string {
  const lines: string[] = [];
  const row = (cells: string[], widths: number[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const table: Table = (title, head, rows) => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
    lines.push('', title, row(head, widths), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((x) => row(x, widths)));
  };
  lines.push(`payout-sandbox bench (${r.meta.profile}) — ${r.meta.date} — node ${r.meta.node}, isolated-vm ${r.meta.isolatedVm}, ${r.meta.cpus} × ${r.meta.cpuModel}`);
  lines.push(`load average ${r.meta.loadAvgStart.join(' ')} → ${r.meta.loadAvgEnd.join(' ')}; ${r.meta.durationS} s; engines ${r.meta.engines.join(', ')}`);
  if (r.meta.warning) lines.push(`WARNING: ${r.meta.warning}`);
  for (const p of r.meta.problems) lines.push(`PROBLEM: ${p}`);

  engineColumnsTable(r, table);
  for (const column of r.engines) {
    if (column.unavailable) continue;
    lines.push('', `==== ${column.engine}: the figures in detail ====`);
    detailTables(column.details, table, (line) => lines.push(line));
  }
  const goalsHead = r.engines.length > 1 ? ['goal', 'engine', 'target', 'value', 'met'] : ['goal', 'target', 'value', 'met'];
  table(`Goals (computed from this run; not asserted; the issue's goals hold for ${r.meta.primaryEngine}) — load average ${r.meta.loadAvgStart.join(' ')} → ${r.meta.loadAvgEnd.join(' ')}`, goalsHead,
    interleaveByEngine(r).map((g) => {
      const met = g.met === null ? (g.unavailable ? `${g.engine}: not available (${g.unavailable})` : '— (not measured)') : g.met ? 'yes' : 'NO';
      return r.engines.length > 1 ? [g.goal, g.engine, g.target, fmt(g.value, 2), met] : [g.goal, g.target, fmt(g.value, 2), met];
    }));
  return `${lines.join('\n')}\n`;
}

/** Each goal's rows of every engine next to each other (every engine has the same goals, in one order). */
function interleaveByEngine(r: BenchReport): BenchReport['goals'] {
  const perEngine = r.engines.map((c) => r.goals.filter((g) => g.engine === c.engine));
  const n = Math.max(0, ...perEngine.map((x) => x.length));
  return Array.from({ length: n }, (_, i) => perEngine.map((x) => x[i]).filter(Boolean)).flat();
}

/** One engine's detailed tables: per call, webhook, start-up, density, sweep, noisy neighbour. */
function detailTables(d: BenchReport['details'], table: Table, line: (text: string) => void): void {
  if (d.call) {
    const c = d.call;
    const f = c.floor;
    const labels: Record<CallVariant, string> = {
      bare: 'no host call', config: '1 cacheable config.get', configServer: '1 cacheable config.get, local answers off', secret: '1 secret read', txRead: '1 tx read',
    };
    table(`Per-call cost, µs (${c.iterations} calls each, sequential, interleaved)`,
      ['', 'p50', 'p90', 'p99', '÷ JSON floor', '÷ raw floor', 'in process p50', 'server CPU µs', 'sandbox CPU µs'], [
        ['floor: raw bytes, 2 Node processes on a pipe', fmt(f.raw.p50), fmt(f.raw.p90), fmt(f.raw.p99), '', '1.00', '', '', ''],
        ['floor: JSON frames, same pipe', fmt(f.json.p50), fmt(f.json.p90), fmt(f.json.p99), '1.00', fmt(f.json.p50 / f.raw.p50, 2), '',
          fmt(f.cpuUs.json.server), fmt(f.cpuUs.json.echo)],
        ...CALL_VARIANTS.map((k) => {
          const x = c.variants[k];
          return [`sandboxed, ${labels[k]}`, fmt(x.sandboxed.p50), fmt(x.sandboxed.p90), fmt(x.sandboxed.p99), fmt(x.ratioToFloor, 2), fmt(x.ratioToRawFloor, 2),
            fmt(x.inProcess.p50), fmt(x.cpuUs.server), fmt(x.cpuUs.sandbox)];
        }),
        ['config.get via the dispatcher only, in process', fmt(c.dispatchOnly.p50), fmt(c.dispatchOnly.p90), fmt(c.dispatchOnly.p99), '', '', '', '', ''],
      ]);
    line('CPU per call from a block of calls of that variant alone (the sandbox process\'s from /proc, 10 ms ticks); the floor\'s "sandbox" is its echo process');
    if (c.segments) {
      const seg = c.segments;
      const cell = (k: CallVariant, f: (s: SegmentSummary) => string) => (seg[k] ? f(seg[k]) : '—');
      table('Where a sandboxed call\'s time goes, µs (median of traced calls; lib/call-segments.ts)', ['', ...CALL_VARIANTS.map((k) => labels[k])], [
        ...SEGMENTS.map(([name, label]) => [label, ...CALL_VARIANTS.map((k) => cell(k, (s) => fmt(s.medianUs[name])))]),
        ['round trips', ...CALL_VARIANTS.map((k) => cell(k, (s) => String(s.roundTrips)))],
        ['Σ of the medians (channel × round trips) / median total', ...CALL_VARIANTS.map((k) => cell(k, (s) => `${fmt(s.sumOfMediansUs)} / ${fmt(s.medianTotalUs)}`))],
        ['traced calls', ...CALL_VARIANTS.map((k) => cell(k, (s) => String(s.calls)))],
      ]);
      line('Each process marks its own times; a round trip\'s channel cost is what the server waited for that the sandbox process did not spend. Traced calls are not among the timed ones above.');
    }
  }
  if (d.webhook) {
    const w = d.webhook;
    const shapeRows = (label: string, s: NonNullable<WebhookResult['withProvider']>) => [
      [`${label}: sandboxed`, fmt(s.sandboxed.rps, 0), fmt(s.sandboxed.latencyMsP50, 0), fmt(s.sandboxed.latencyMsP99, 0), fmt(s.sandboxed.serverCpuUsPerReq, 0), fmt(s.sandboxed.sandboxCpuUsPerReq, 0), String(s.sandboxed.failures), fmt(s.ratio, 2)],
      [`${label}: in process`, fmt(s.inProcess.rps, 0), fmt(s.inProcess.latencyMsP50, 0), fmt(s.inProcess.latencyMsP99, 0), fmt(s.inProcess.serverCpuUsPerReq, 0), '', String(s.inProcess.failures), ''],
    ];
    table(`Webhook throughput (${w.connections} connections, ${w.duration} s × ${w.rounds} rounds, ${w.store})`,
      ['', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'sandbox CPU µs/req', 'failed', 'ratio'],
      [...shapeRows('5 host calls', w.hostCalls), ...(w.withProvider ? shapeRows('+ provider call', w.withProvider) : []),
        ...(w.memoryStore ? shapeRows('5 host calls, memory store', w.memoryStore) : [])]);
  }
  if (d.startup) {
    const s = d.startup;
    const st = (label: string, x: StartupResult['cold']) => [label, fmt(x.bundleMs), fmt(x.manifestMs), fmt(x.loadMs), fmt(x.initCronMs), fmt(x.firstCallMs), fmt(x.totalMs)];
    table(`Start-up, ms (median; ${s.plugin}, ${Math.round(s.bundleBytes / 1024)} KB bundle; esbuild service and sandbox process already running)`,
      ['', 'bundle', 'configure.js', 'load', 'initCron', '1st getFields', 'total'],
      [st('cold', s.cold), st('warm (bundle + code cache kept)', s.warm), st('warm, rebundled', s.warmRebundled),
        st('cold, in a process of its own (load includes its start)', s.coldOwnProcess)]);
    line(`esbuild service start (once per server process): ${fmt(s.esbuildServiceStartMs)} ms (importing esbuild ${fmt(s.esbuildImportMs)} ms); ` +
      `a server's first plugin = esbuild service start + sandbox process start + cold = ${fmt(s.firstPluginOfServerMs)} ms`);
    line(`sandbox process start (spawn → ready): ${fmt(s.sandboxProcessStartMs)} ms; a new plugin's first load in its own process (the default) = ` +
      `process start + cold = ${fmt(s.processStartPlusColdMs)} ms (measured: ${fmt(s.coldOwnProcess.totalMs)} ms)`);
    line(`unloading a plugin (reloads pay it too): ${fmt(s.unloadMs)} ms; code cache accepted: ${s.codeCacheAccepted}`);
    const parts = (x: StartupResult['cold']) => Object.entries(x.loadPhases ?? {}).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') || '—';
    line(`load inside the sandbox process, ms (median): cold: ${parts(s.cold)}; warm: ${parts(s.warm)}`);
  }
  if (d.density) {
    const models = [d.density.processPerPlugin, d.density.sharedGroup];
    table('Density, idle plugins (summed over the plugin sandbox processes; the configure.js process is not counted)',
      ['model', 'plugins', 'processes', 'RSS MB', 'RSS MB per plugin', 'RSS MB per added plugin', 'PSS MB', 'private MB', 'private MB per added plugin', 'heap per isolate MB'],
      models.flatMap((m) => m.points.map((p) => [m.model, String(p.plugins), String(p.processes), fmt(p.rssMb), fmt(p.perPluginMb, 2), fmt(p.addedPerPluginMb, 2), fmt(p.pssMb), fmt(p.privateMb), fmt(p.addedPrivatePerPluginMb, 2), fmt(p.heapPerIsolateMb, 2)])));
    line('per added plugin: (total − total at the previous count) / plugins added; from 0 plugins (no plugin process at all) for the first count');
    line("RSS counts in every process the Node binary and libraries the machine holds once; PSS splits shared pages among the processes mapping them; private memory is what only that process holds: what one more plugin adds (the goal's figure)");
  }
  if (d.sweep) {
    const s = d.sweep;
    table(`Cron sweep (nimbuspay, provider latency ${s.latencyMs} ms; ${s.store}; median of ${s.repeats} runs per variant, alternating which goes first)`,
      ['txs', 'sandboxed ms/tx', 'in process ms/tx', 'overhead ms/tx', '% of provider time', 'server CPU µs/tx sb / ip', 'sandbox CPU µs/tx', 'isolate CPU ms/tx', 'runs ms/tx sb | ip'],
      s.points.map((p) => [String(p.txs), fmt(p.sandboxed.msPerTx, 2), fmt(p.inProcess.msPerTx, 2), fmt(p.overheadMsPerTx, 2), fmt(p.overheadPctOfProvider, 0),
        `${fmt(p.sandboxed.serverCpuUsPerTx, 0)} / ${fmt(p.inProcess.serverCpuUsPerTx, 0)}`, fmt(p.sandboxed.sandboxCpuUsPerTx, 0),
        p.sandboxed.isolateCpuMs === null ? '—' : fmt(p.sandboxed.isolateCpuMs / p.txs, 3),
        `${p.runs.sandboxed.map((x) => fmt(x, 2)).join(' ')} | ${p.runs.inProcess.map((x) => fmt(x, 2)).join(' ')}`]));
  }
  if (d.noisy) formatNoisyNeighbour(d.noisy, table, line);
}
