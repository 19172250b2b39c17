// The fake provider's payouts and balances kept in a file, so a demo host restarted on the same
// data folder finds the payouts it sent before: an accepted payout still reaches its outcome and
// its webhook, instead of being forgotten and held for review ten minutes later.
import fs from 'node:fs';
import path from 'node:path';
import type { FakePayout } from './fake-provider.ts';

export interface ProviderState {
  payouts: FakePayout[];
  balances: Record<string, string>;
}

export function loadProviderState(file: string): ProviderState | null {
  if (!fs.existsSync(file)) return null;
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as ProviderState;
    if (!Array.isArray(parsed.payouts) || !parsed.balances || typeof parsed.balances !== 'object') return null;
    return parsed;
  } catch {
    return null; // a torn or foreign file: start afresh rather than refuse to start the demo
  }
}

/** Written whole to a temporary file and renamed over the old one, so a crash never leaves half. */
export function saveProviderState(file: string, state: ProviderState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** When a payout that was still open at the last save should reach its scripted outcome, from now. */
export function remainingMs(payout: FakePayout, now: number): number | null {
  if (payout.status === 'DONE' || payout.status === 'FAILED' || payout.status === 'CANCELED') return null;
  if (payout.behaviour.afterMs !== undefined) return Math.max(0, payout.createdAt + payout.behaviour.afterMs - now);
  if ((payout.behaviour.afterPolls ?? 0) === 0) return 0;
  return null; // reached by status polls, which will come again
}
