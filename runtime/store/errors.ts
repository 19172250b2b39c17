// Errors a Store throws on purpose. Anything else coming out of a store is a fault of the database
// or of the adapter, and callers should treat it as "outcome unknown".

/** A store operation was called with an argument it does not accept. Nothing was written. */
export class StoreInputError extends Error {
  readonly code = 'STORE_INPUT';
  constructor(operation: string, message: string) {
    super(`${operation}: ${message}`);
    this.name = 'StoreInputError';
  }
}

/** A write would break an invariant the database enforces (e.g. two live attempts for one order). Nothing was written. */
export class StoreConflictError extends Error {
  readonly code = 'STORE_CONFLICT';
  constructor(operation: string, message: string) {
    super(`${operation}: ${message}`);
    this.name = 'StoreConflictError';
  }
}

/**
 * An attempt update asked for a move the attempt state table (design.md §6) does not allow, from
 * one of the states it named. Always a bug of the caller, never of the data. Nothing was written.
 */
export class StoreTransitionError extends Error {
  readonly code = 'STORE_TRANSITION';
  constructor(operation: string, message: string) {
    super(`${operation}: ${message}`);
    this.name = 'StoreTransitionError';
  }
}

/** The store could not be opened: the message says what failed, where, and how to fix it. */
export class StoreOpenError extends Error {
  readonly code = 'STORE_OPEN';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreOpenError';
  }
}
