// The server's half of a traced call (InvokeOptions.trace, bench --trace): it marks when the call
// started, when its invoke left, when each host call arrived and was answered, when the reply
// arrived and when the call was done, and takes the sandbox process's marks out of the reply's
// stats (child/call-trace.ts), so nothing else reads or records them.
import type { CallStats, TraceMark } from './protocol.ts';
import type { CallTrace } from './sandbox-host-types.ts';

/** More marks than the sandbox process sends for any call (its own cap is 200). */
const MAX_SANDBOX_MARKS = 200;

export class ServerCallTrace {
  private readonly trace: CallTrace = { server: [], sandbox: [] };

  constructor() {
    this.mark('start');
  }

  mark(label: string, at = performance.now()): void {
    this.trace.server.push([label, at]);
  }

  /** The reply arrived: its arrival, and the sandbox process's marks moved out of its stats. */
  replied(arrivedAt: number | undefined, stats: CallStats | undefined): void {
    this.mark('replyArrive', arrivedAt ?? performance.now());
    const marks = stats?.trace;
    if (stats) delete stats.trace;
    if (Array.isArray(marks)) {
      this.trace.sandbox = marks.slice(0, MAX_SANDBOX_MARKS).filter((m): m is TraceMark => Array.isArray(m) && typeof m[0] === 'string' && typeof m[1] === 'number');
    }
  }

  /** The call is done: its result carries the marks. */
  finish<T extends { trace?: CallTrace }>(result: T): T {
    this.mark('done');
    result.trace = this.trace;
    return result;
  }
}
