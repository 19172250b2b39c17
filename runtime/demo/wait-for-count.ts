// "Resolve when this list has N entries" for the fakes' recorded traffic (IPNs, webhooks): the
// list grows from request handlers, which call every waiter after each push.
export function waitForCount<T>(list: readonly T[], waiters: Set<() => void>, count: number, timeoutMs: number, what: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (list.length < count) return;
      cleanup();
      resolve(list.slice(0, count));
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`${what}: ${list.length}/${count} after ${timeoutMs} ms`)); }, timeoutMs);
    const cleanup = () => { clearTimeout(timer); waiters.delete(check); };
    waiters.add(check);
    check();
  });
}
