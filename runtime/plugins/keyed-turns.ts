// One piece of work per key at a time, the rest waiting their turn in arrival order. A plugin's
// loads (registry.ts) and its engine switches (admin routes) read state, await, then write it: two
// of them interleaved leave whichever finished last in charge, which is how a refused engine
// switch got "undone" to the choice of the switch beside it and left the plugin not loaded.
export class KeyedTurns {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `work` once every earlier work of `key` has settled (a failure does not block the next). */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const mine = before.then(work, work);
    // The tail never rejects, and the map holds no key once its last work is done.
    const tail = mine.then(() => undefined, () => undefined);
    this.tails.set(key, tail);
    void tail.then(() => { if (this.tails.get(key) === tail) this.tails.delete(key); });
    return mine;
  }
}
