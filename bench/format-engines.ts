// Every headline figure with one column per engine (format-report.ts prints it first): the figures
// of each scenario side by side, and for an engine without figures for a scenario, in each of its
// cells, "<engine>: not available (<reason>)".
import type { BenchFigures, BenchReport, EngineColumn, ScenarioName } from './run-bench.ts';

type Table = (title: string, head: string[], rows: string[][]) => void;

/** Each figure: the scenario it comes from, its label, and its decimals. */
export const FIGURE_ROWS: readonly { key: keyof BenchFigures; scenario: ScenarioName; label: string; digits: number }[] = [
  { key: 'round_trip_floor_json_us_p50', scenario: 'call', label: 'call: JSON round-trip floor, µs p50', digits: 1 },
  { key: 'round_trip_floor_raw_us_p50', scenario: 'call', label: 'call: raw round-trip floor, µs p50', digits: 1 },
  { key: 'call_ratio_bare', scenario: 'call', label: 'call, no host call ÷ JSON floor', digits: 2 },
  { key: 'call_ratio_config', scenario: 'call', label: 'call, 1 cacheable config.get ÷ JSON floor', digits: 2 },
  { key: 'call_ratio_config_server', scenario: 'call', label: 'call, same config.get answered by the server ÷ JSON floor', digits: 2 },
  { key: 'call_ratio_secret', scenario: 'call', label: 'call, 1 secret read ÷ JSON floor', digits: 2 },
  { key: 'call_ratio_tx_read', scenario: 'call', label: 'call, 1 tx read ÷ JSON floor', digits: 2 },
  { key: 'call_us_p50_tx_read', scenario: 'call', label: 'call, 1 tx read, µs p50', digits: 1 },
  { key: 'call_server_cpu_us_bare', scenario: 'call', label: 'call: server CPU µs, no host call', digits: 0 },
  { key: 'call_server_cpu_us_config', scenario: 'call', label: 'call: server CPU µs, config.get', digits: 0 },
  { key: 'call_server_cpu_us_config_server', scenario: 'call', label: 'call: server CPU µs, config.get answered by the server', digits: 0 },
  { key: 'call_server_cpu_us_secret', scenario: 'call', label: 'call: server CPU µs, secret read', digits: 0 },
  { key: 'call_server_cpu_us_tx_read', scenario: 'call', label: 'call: server CPU µs, tx read', digits: 0 },
  { key: 'webhook_rps_sandboxed', scenario: 'webhook', label: 'webhook: req/s sandboxed (file store)', digits: 0 },
  { key: 'webhook_rps_in_process', scenario: 'webhook', label: 'webhook: req/s in process (file store)', digits: 0 },
  { key: 'webhook_throughput_ratio', scenario: 'webhook', label: 'webhook: sandboxed / in process, file store', digits: 2 },
  { key: 'webhook_throughput_ratio_with_provider', scenario: 'webhook', label: 'webhook: … with a provider call', digits: 2 },
  { key: 'webhook_throughput_ratio_memory_store', scenario: 'webhook', label: 'webhook: … memory store', digits: 2 },
  { key: 'esbuild_service_start_ms', scenario: 'startup', label: 'start-up: esbuild service start, ms', digits: 1 },
  { key: 'sandbox_process_start_ms', scenario: 'startup', label: 'start-up: sandbox process start, ms', digits: 1 },
  { key: 'cold_start_ms', scenario: 'startup', label: 'start-up: never-seen plugin, ms', digits: 1 },
  { key: 'cold_start_own_process_ms', scenario: 'startup', label: 'start-up: never-seen plugin, own process, ms', digits: 1 },
  { key: 'first_plugin_of_server_ms', scenario: 'startup', label: "start-up: a server's first plugin, ms", digits: 1 },
  { key: 'warm_start_ms', scenario: 'startup', label: 'start-up: known plugin (warm), ms', digits: 1 },
  { key: 'warm_start_rebundled_ms', scenario: 'startup', label: 'start-up: known plugin, rebundled, ms', digits: 1 },
  { key: 'rss_per_plugin_mb', scenario: 'density', label: 'density: RSS MB per idle plugin, process per plugin', digits: 2 },
  { key: 'rss_per_plugin_mb_shared_group', scenario: 'density', label: 'density: RSS MB per idle plugin, shared group', digits: 2 },
  { key: 'private_per_plugin_mb', scenario: 'density', label: 'density: private MB per idle plugin, process per plugin', digits: 2 },
  { key: 'private_per_plugin_mb_shared_group', scenario: 'density', label: 'density: private MB per idle plugin, shared group', digits: 2 },
  { key: 'sweep_ms_per_tx_1k', scenario: 'sweep', label: 'sweep: ms per tx at 1 000, sandboxed', digits: 2 },
  { key: 'sweep_ms_per_tx_10k', scenario: 'sweep', label: 'sweep: ms per tx at 10 000, sandboxed', digits: 2 },
  { key: 'sweep_in_process_ms_per_tx_1k', scenario: 'sweep', label: 'sweep: ms per tx at 1 000, in process', digits: 2 },
  { key: 'sweep_in_process_ms_per_tx_10k', scenario: 'sweep', label: 'sweep: ms per tx at 10 000, in process', digits: 2 },
  { key: 'sweep_host_overhead_pct_1k', scenario: 'sweep', label: 'sweep: host overhead % of provider, 1 000', digits: 0 },
  { key: 'sweep_host_overhead_pct_10k', scenario: 'sweep', label: 'sweep: host overhead % of provider, 10 000', digits: 0 },
  { key: 'sweep_isolate_cpu_ms_per_tx', scenario: 'sweep', label: "sweep: engine's CPU ms per tx", digits: 3 },
  { key: 'sweep_max_txs_in_default_cpu_budget', scenario: 'sweep', label: 'sweep: txs in the default 1 s CPU budget', digits: 0 },
  { key: 'noisy_neighbour_p99_ratio', scenario: 'noisy', label: 'noisy: quiet p99, flood / alone', digits: 2 },
  { key: 'noisy_neighbour_p50_ratio', scenario: 'noisy', label: 'noisy: quiet p50, flood / alone', digits: 2 },
  { key: 'noisy_neighbour_quiet_p99_ms_alone', scenario: 'noisy', label: 'noisy: quiet p99 ms, alone', digits: 1 },
  { key: 'noisy_neighbour_quiet_p99_ms_flood', scenario: 'noisy', label: 'noisy: quiet p99 ms, under the flood', digits: 1 },
  { key: 'noisy_neighbour_quiet_faults', scenario: 'noisy', label: 'noisy: quiet breaker faults', digits: 0 },
  { key: 'noisy_neighbour_quiet_payouts_not_done', scenario: 'noisy', label: 'noisy: quiet payouts not done', digits: 0 },
];

/** One cell: the figure, '—' where the run did not measure it, or why the engine has none. */
export function engineCell(column: EngineColumn, row: (typeof FIGURE_ROWS)[number]): string {
  const why = column.missing[row.scenario];
  if (why) return `${column.engine}: not available (${why})`;
  const v = column.figures[row.key];
  return v === null || !Number.isFinite(v) ? '—' : v.toFixed(row.digits);
}

export function engineColumnsTable(r: BenchReport, table: Table): void {
  const rows = FIGURE_ROWS.filter((row) => r.meta.scenarios.includes(row.scenario));
  table(`Every figure per engine (${r.meta.profile}; — where this run did not measure it)`,
    ['figure', ...r.engines.map((c) => c.engine)],
    rows.map((row) => [row.label, ...r.engines.map((c) => engineCell(c, row))]));
}
