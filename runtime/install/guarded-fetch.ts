// Tarball URLs typed into the admin API are fetched through the server's egress guard
// (host-api/http.ts), like merchant IPNs: only public addresses (checked on every DNS answer and on
// the socket), redirects re-checked, the body capped. Without it, anyone holding the admin token could
// make the server probe its own network (cloud metadata, internal services) via "install from URL".
// The configured npm registry is the operator's choice and is fetched directly (npm-registry.ts).
import { PolicyDenied } from '../../host-api/capability.ts';
import { createServerEgress } from '../../host-api/http.ts';
import type { ServerEgressOptions } from '../../host-api/http.ts';
import { InstallError } from './install-errors.ts';
import type { InstallLimits } from './install-errors.ts';
import { checkFetchUrl, displayUrl } from './npm-registry.ts';

export function guardedTarballFetcher(limits: InstallLimits, options: Pick<ServerEgressOptions, 'allowLoopbackOrigins' | 'resolve' | 'connect'> = {}) {
  const egress = createServerEgress({
    label: 'plugin install', ...options,
    caps: { maxResponseBytes: limits.maxTarballBytes, totalTimeoutMs: limits.fetchTimeoutMs, maxRedirects: 5 },
  });
  return async (url: string, token: string | undefined): Promise<Buffer> => {
    checkFetchUrl(url, 'the tarball');
    let res;
    try {
      res = await egress.request({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    } catch (err) {
      // A refused address is a wrong URL (400), not a registry outage (502).
      throw new InstallError(err instanceof PolicyDenied ? 'bad_source' : 'fetch_failed', `could not fetch the tarball ${displayUrl(url)}: ${(err as Error).message}`);
    }
    if (res.status === 401 || res.status === 403) throw new InstallError('unauthorized', `${displayUrl(url)} refused the tarball (HTTP ${res.status}): check the token`);
    if (res.status === 404) throw new InstallError('not_found', `the tarball was not found at ${displayUrl(url)} (HTTP 404)`);
    if (res.status !== 200) throw new InstallError('fetch_failed', `${displayUrl(url)} answered HTTP ${res.status} for the tarball`);
    return res.body;
  };
}
