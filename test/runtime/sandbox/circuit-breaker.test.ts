import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../../runtime/sandbox/circuit-breaker.ts';

describe('circuit breaker', () => {
  it('opens after threshold faults in the window, admits one trial after the cooldown, closes on success', () => {
    let now = 0;
    const b = new CircuitBreaker({ threshold: 2, windowMs: 1000, cooldownMs: 500 }, () => now);
    b.recordFault('cpu_limit', 'x');
    expect(b.state).toBe('closed');
    now = 100;
    b.recordFault('cpu_limit', 'y');
    expect(b.state).toBe('open');
    expect(b.admit()).toEqual({ ok: false, retryInMs: 500 });
    now = 700;
    expect(b.state).toBe('half-open');
    expect(b.admit()).toEqual({ ok: true });
    expect(b.admit().ok).toBe(false); // only one trial at a time
    b.recordSuccess();
    expect(b.state).toBe('closed');
  });

  it('a failed trial reopens it; faults outside the window do not count', () => {
    let now = 0;
    const b = new CircuitBreaker({ threshold: 2, windowMs: 1000, cooldownMs: 500 }, () => now);
    b.recordFault('deadline', 'a');
    now = 2000;
    b.recordFault('deadline', 'b');
    expect(b.state).toBe('closed');
    now = 2100;
    b.recordFault('deadline', 'c');
    expect(b.state).toBe('open');
    now = 2700;
    expect(b.admit().ok).toBe(true);
    b.recordFault('memory_limit', 'd');
    expect(b.state).toBe('open');
    expect(b.lastFault?.kind).toBe('memory_limit');
  });
});
