// How much a plugin may hand the server in one result or webhook answer, counted in values
// rather than bytes: the server's work on a result (scrubbing it of the plugin's secrets, on the
// one thread every plugin shares) grows with the number of values, and the payload limit in
// bytes (protocol.ts) lets a small value cost 3 bytes.
/**
 * Values a result or a webhook answer may hold. The server scrubs each value of what a plugin
 * returns on its one thread, about 1 µs a value: 4 MB of `[{},{},…]` is 1.4 M values, which held
 * the thread for 1.4 s in one go, every other plugin's requests waiting. 100 000 values bound
 * that to about 0.1 s, and are far more than any payout method returns.
 */
export const MAX_RESULT_VALUES = 100_000;

/** Whether `value` (parsed JSON) holds more than `max` values, keys counted; stops counting there. */
export function holdsMoreThan(value: unknown, max: number): boolean {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    count++;
    if (Array.isArray(v)) {
      if (count + v.length > max) return true;
      for (const x of v) stack.push(x);
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      if (count + 2 * keys.length > max) return true;
      count += keys.length;
      for (const k of keys) stack.push((v as Record<string, unknown>)[k]);
    }
    if (count > max) return true;
  }
  return false;
}
