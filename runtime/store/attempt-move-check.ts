// The one check both store adapters run before writing an attempt's state: every state the update
// may move from must be allowed to reach the new state by the attempt table (design.md §6). The
// database then writes only if the stored state is one of them, so no illegal move is ever stored,
// whatever the caller believed the state to be.
import { allowedAttemptMoves, canMoveAttempt } from './attempt-transitions.ts';
import { StoreTransitionError } from './errors.ts';
import type { AttemptState } from './types.ts';

export function checkAttemptMove(attemptId: string, fromStates: readonly AttemptState[], to: AttemptState | undefined): void {
  if (to === undefined) return; // no state change: the fields of the current state are updated
  const illegal = fromStates.filter((from) => !canMoveAttempt(from, to));
  if (illegal.length === 0) return;
  const allowed = illegal.map((from) => `${from} → ${allowedAttemptMoves(from).join(' | ') || 'nothing, it is final'}`).join('; ');
  throw new StoreTransitionError('updateAttempt', `attempt ${attemptId} may not move from ${illegal.join(' or ')} to ${to}; `
    + `the attempt table (runtime/store/attempt-transitions.ts) allows ${allowed}. Nothing was written`);
}
