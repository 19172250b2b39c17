// What the isolate-side JavaScript (the prelude and the shims) finds in a plugin's context besides
// the ECMAScript built-ins: the web globals the prelude itself defines (web-globals.isolate.js),
// the bridge's four arguments, and V8's own extras. Only for the type check of those files
// (tsconfig.isolate.json); nothing of Node is there.
declare const $0: (name: string, argsJson: string) => string;
declare const $1: (callId: string, name: string, argsJson: string) => string;
declare const $2: (kind: string, callId: string, json: string) => void;
declare const $3: string;
declare function setTimeout(fn: (...args: any[]) => void, ms?: number, ...args: any[]): any;
declare function clearTimeout(id: any): void;
declare function queueMicrotask(fn: () => void): void;
declare function atob(data: string): string;
declare function btoa(data: string): string;
declare class URL {
  constructor(url: string, base?: string | URL);
  href: string; origin: string; protocol: string; username: string; password: string; host: string;
  hostname: string; port: string; pathname: string; search: string; hash: string;
  readonly searchParams: URLSearchParams;
  toString(): string;
  toJSON(): string;
}
declare class URLSearchParams {
  constructor(init?: string | Record<string, string> | [string, string][] | URLSearchParams);
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string): boolean;
  set(name: string, value: string): void;
  forEach(fn: (value: string, key: string) => void): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  toString(): string;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}
declare class TextEncoder { encode(input?: string): Uint8Array }
declare class TextDecoder { constructor(label?: string, options?: { fatal?: boolean }); decode(input?: ArrayBufferView | ArrayBuffer): string }
interface ErrorConstructor {
  captureStackTrace?(target: object, constructorOpt?: Function): void;
  stackTraceLimit?: number;
  prepareStackTrace?: (err: Error, stack: any[]) => any;
}
