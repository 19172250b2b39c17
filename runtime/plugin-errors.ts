// Why a plugin cannot be accepted. Every refusal names what, where (file:line when known) and how
// to fix it, because the reader is a plugin author or a host who did not write the plugin. The
// codes, with their meaning, are listed in runtime/errors.ts (PLUGIN_REJECTIONS).
import type { PluginRejectionCode } from './errors.ts';

export interface SourceLocation { file: string; line: number; column?: number }

export class PluginRejected extends Error {
  readonly code: PluginRejectionCode;
  readonly location: SourceLocation | null;
  constructor(code: PluginRejectionCode, message: string, location: SourceLocation | null = null) {
    super(location ? `${location.file}:${location.line}: ${message}` : message);
    this.name = 'PluginRejected';
    this.code = code;
    this.location = location;
  }
}

/** Several independent problems found in one pass (e.g. two forbidden requires). */
export class PluginRejectedMany extends PluginRejected {
  readonly problems: PluginRejected[];
  constructor(problems: PluginRejected[]) {
    super(problems[0].code, problems.map((p) => p.message).join('\n'), problems[0].location);
    this.name = 'PluginRejected';
    this.problems = problems;
  }
}
