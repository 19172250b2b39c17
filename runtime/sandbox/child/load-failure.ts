// How a plugin's bundle is wrapped for loading, and how a failed load is reported.
import type { FailureKind } from '../protocol.ts';

/** Plugin code wrapped so that what it throws goes to the prelude's __ps_load_failed, a binding it cannot replace. */
export function loadWrapped(code: string): string {
  return `try {\n${code}\n} catch (thrown) { __ps_load_failed(thrown); }`;
}

export class LoadFailure extends Error {
  readonly kind: FailureKind;
  /** Cut on a machine too busy to run it (see OVERLOAD_SHARE): worth loading again. */
  readonly overloaded: boolean;
  constructor(kind: FailureKind, message: string, overloaded = false) {
    super(message);
    this.kind = kind;
    this.overloaded = overloaded;
  }
}
