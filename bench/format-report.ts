// The human-readable table of a bench report (`payout-sandbox bench` without --json).
import type { BenchReport } from './run-bench.ts';
import type { StartupResult } from './scenarios/startup.ts';
import type { WebhookResult } from './scenarios/webhook.ts';
import { CALL_VARIANTS } from './scenarios/call-overhead.ts';
import type { CallVariant } from './scenarios/call-overhead.ts';
import { formatNoisyNeighbour } from './format-noisy.ts';

const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));

/** The human-readable table. */
export function formatReport(r: BenchReport): string {
  const d = r.details;
  const lines: string[] = [];
  const row = (cells: string[], widths: number[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const table = (title: string, head: string[], rows: string[][]) => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
    lines.push('', title, row(head, widths), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((x) => row(x, widths)));
  };
  lines.push(`payout-sandbox bench (${r.meta.profile}) — ${r.meta.date} — node ${r.meta.node}, isolated-vm ${r.meta.isolatedVm}, ${r.meta.cpus} × ${r.meta.cpuModel}`);
  lines.push(`load average ${r.meta.loadAvgStart.join(' ')} → ${r.meta.loadAvgEnd.join(' ')}; ${r.meta.durationS} s`);
  if (r.meta.warning) lines.push(`WARNING: ${r.meta.warning}`);
  for (const p of r.meta.problems) lines.push(`PROBLEM: ${p}`);

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
    lines.push('CPU per call from a block of calls of that variant alone (the sandbox process\'s from /proc, 10 ms ticks); the floor\'s "sandbox" is its echo process');
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
    lines.push(`esbuild service start (once per server process): ${fmt(s.esbuildServiceStartMs)} ms (importing esbuild ${fmt(s.esbuildImportMs)} ms); ` +
      `a server's first plugin = esbuild service start + sandbox process start + cold = ${fmt(s.firstPluginOfServerMs)} ms`);
    lines.push(`sandbox process start (spawn → ready): ${fmt(s.sandboxProcessStartMs)} ms; a new plugin's first load in its own process (the default) = ` +
      `process start + cold = ${fmt(s.processStartPlusColdMs)} ms (measured: ${fmt(s.coldOwnProcess.totalMs)} ms)`);
    lines.push(`unloading a plugin (reloads pay it too): ${fmt(s.unloadMs)} ms; code cache accepted: ${s.codeCacheAccepted}`);
  }
  if (d.density) {
    const models = [d.density.processPerPlugin, d.density.sharedGroup];
    table('Density, idle plugins (RSS summed over the plugin sandbox processes; the configure.js process is not counted)',
      ['model', 'plugins', 'processes', 'RSS MB', 'MB per plugin', 'MB per added plugin', 'heap per isolate MB'],
      models.flatMap((m) => m.points.map((p) => [m.model, String(p.plugins), String(p.processes), fmt(p.rssMb), fmt(p.perPluginMb, 2), fmt(p.addedPerPluginMb, 2), fmt(p.heapPerIsolateMb, 2)])));
    lines.push('MB per added plugin: (RSS − RSS at the previous count) / plugins added; from 0 plugins (no plugin process at all) for the first count');
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
  if (d.noisy) formatNoisyNeighbour(d.noisy, table, (line) => lines.push(line));
  table(`Goals (computed from this run; not asserted) — load average ${r.meta.loadAvgStart.join(' ')} → ${r.meta.loadAvgEnd.join(' ')}`, ['goal', 'target', 'value', 'met'],
    r.goals.map((g) => [g.goal, g.target, fmt(g.value, 2), g.met === null ? '— (not measured)' : g.met ? 'yes' : 'NO']));
  return `${lines.join('\n')}\n`;
}
