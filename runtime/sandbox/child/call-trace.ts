// The sandbox process's half of a traced call (bench --trace; design.md §5): when an invoke asks
// for a trace, the process marks when the call's frames arrived, when the engine was entered,
// when each host call left and its answer came back, and when the reply left; the marks go back
// in the reply's stats. Untraced calls cost one map lookup per mark site. Marks hold labels and
// times only, never a value of the call.
import type { TraceMark } from '../protocol.ts';

/** More marks than any call needs to show where its time goes; a long call keeps its first ones. */
const MAX_MARKS = 200;

export class CallTraces {
  private readonly calls = new Map<string, TraceMark[]>();
  /** Host calls of traced calls, to mark their answers' arrival. */
  private readonly hostCalls = new Map<number, string>();

  begin(callId: string, arrivedAt: number): void {
    this.calls.set(callId, [['arrive', arrivedAt]]);
  }

  mark(callId: string, label: string, at = performance.now()): void {
    const marks = this.calls.get(callId);
    if (marks && marks.length < MAX_MARKS) marks.push([label, at]);
  }

  /** A host call of `callId` left for the server. */
  hostCallSent(callId: string, hostCallId: number): void {
    if (!this.calls.has(callId)) return;
    this.hostCalls.set(hostCallId, callId);
    this.mark(callId, 'hostOut');
  }

  /** The server's answer to a host call arrived; the call it belongs to, when traced. */
  hostCallAnswered(hostCallId: number, arrivedAt: number): string | undefined {
    const callId = this.hostCalls.get(hostCallId);
    if (callId === undefined) return undefined;
    this.hostCalls.delete(hostCallId);
    this.mark(callId, 'hostIn', arrivedAt);
    return callId;
  }

  /** The call's marks, with `reply` last; undefined when it was not traced. */
  end(callId: string): TraceMark[] | undefined {
    const marks = this.calls.get(callId);
    if (!marks) return undefined;
    this.calls.delete(callId);
    for (const [id, owner] of this.hostCalls) if (owner === callId) this.hostCalls.delete(id);
    marks.push(['reply', performance.now()]);
    return marks;
  }
}
