// How commands print: JSON on stdout with --json (one object, nothing else), readable text
// otherwise; errors always name what failed and where.
import { PluginRejected } from '../plugin-errors.ts';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function errorInfo(err: unknown): { code: string; message: string; location: unknown } {
  if (err instanceof PluginRejected) return { code: err.code, message: err.message, location: err.location };
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : 'error', message: String(e?.message ?? err), location: null };
}

export function fail(json: boolean, err: unknown, extra: Record<string, unknown> = {}, exitCode = 1): void {
  const info = errorInfo(err);
  if (json) printJson({ ok: false, ...extra, error: info });
  else process.stderr.write(`error: ${info.message}\n`);
  process.exitCode = exitCode;
}

export function section(title: string, lines: string[]): string {
  return lines.length ? `${title}\n${lines.map((l) => `  ${l}`).join('\n')}\n` : `${title}\n  (none)\n`;
}
