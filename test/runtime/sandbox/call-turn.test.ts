// runTimeAtTurn: how long a call that waited for its turn may run, on either clock.
import { describe, expect, it } from 'vitest';
import { MIN_RUN_MS, runTimeAtTurn } from '../../../runtime/sandbox/call-turn.ts';

const call = 'p.callback:done';

describe('runTimeAtTurn', () => {
  it('without a wait bound, the deadline counts from the call: the wait is taken out of it', () => {
    expect(runTimeAtTurn({ call, wallMs: 1000, waitMs: undefined, calledAt: 0, now: 0 })).toEqual({ ok: true, runMs: 1000 });
    expect(runTimeAtTurn({ call, wallMs: 1000, waitMs: undefined, calledAt: 0, now: 700 })).toEqual({ ok: true, runMs: 300 });
    expect(runTimeAtTurn({ call, wallMs: 1000, waitMs: undefined, calledAt: 0, now: 1000 - MIN_RUN_MS + 1 }))
      .toEqual({ ok: false, why: `${call} waited until ${MIN_RUN_MS - 1} ms of its 1000 ms deadline were left` });
  });

  it('with a wait bound, a call that waited within it runs with its whole deadline, however long it waited', () => {
    expect(runTimeAtTurn({ call, wallMs: 1000, waitMs: 5000, calledAt: 0, now: 0 })).toEqual({ ok: true, runMs: 1000 });
    expect(runTimeAtTurn({ call, wallMs: 1000, waitMs: 5000, calledAt: 0, now: 5000 })).toEqual({ ok: true, runMs: 1000 });
  });

  it('with a wait bound, a call that waited past it is refused', () => {
    expect(runTimeAtTurn({ call, wallMs: 1000, waitMs: 5000, calledAt: 0, now: 5001 }))
      .toEqual({ ok: false, why: `${call} waited 5001 ms for its turn, more than 5000 ms` });
  });
});
