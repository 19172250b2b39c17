// The admin install API fetches packages from the server's npm registry, https://registry.npmjs.org:
// buildApp has no option to point it elsewhere. The browser tests run that server in this process,
// so they send that one origin to a fake registry on 127.0.0.1 at the fetch() level — the server's
// own code (spec parsing, integrity, token only to the registry's origin) runs unchanged — and
// refuse every other non-loopback fetch, so that no test packet leaves the machine.
export const NPM_ORIGIN = 'https://registry.npmjs.org';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface NpmRedirect {
  /** Paths asked of registry.npmjs.org and answered by the fake registry. */
  redirected: string[];
  restore(): void;
}

export function redirectNpmRegistry(target: string): NpmRedirect {
  const original = globalThis.fetch;
  const redirected: string[] = [];
  const patched = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin === NPM_ORIGIN) {
      redirected.push(url.pathname);
      return original(`${target}${url.pathname}${url.search}`, init);
    }
    if (!LOOPBACK.has(url.hostname)) throw new TypeError(`browser test: refused a fetch to ${url.origin}; tests contact 127.0.0.1 only`);
    return original(input, init);
  };
  globalThis.fetch = patched as typeof fetch;
  return { redirected, restore() { globalThis.fetch = original; } };
}
