// Everything the installer downloads goes through the host's egress guard (host-api/http/egress.ts),
// the one engine every outbound request of this host uses, with a policy of its own per purpose:
//
//   metadata  the configured registry's origin only;
//   tarball   (dist.tarball of that metadata) the registry's origin, or an origin listed in
//             tarballOrigins (a registry whose tarballs live on a CDN);
//   url       a tarball URL the administrator typed: any public https origin.
//
// For all three: every redirect hop is checked again by the same rules; every DNS answer and the
// connected socket must be public; plain http and loopback only at a configured origin (the
// registry or tarballOrigins) and only with allowLoopback (tests, a mirror on this machine); private
// networks (an internal mirror) likewise only at a configured origin and with allowPrivateNetwork;
// the name `localhost` is never looked up. A refusal happens before any socket is opened.
//
// The registry token goes to the registry's origin only (metadata and tarballs there; for a typed
// URL, that URL's origin), never across a redirect to another origin, and never into a message.
import { CapabilityError, PolicyDenied } from '../../host-api/capability.ts';
import { displayOrigin, loopbackPin, parseTarget, type AddressInfo, type Target } from '../../host-api/http/address-policy.ts';
import { Refusal, defaultConnector, defaultResolver, guardedRequest, type Connector, type EgressCaps, type Gate, type Resolver } from '../../host-api/http/egress.ts';
import { InstallError, mib } from './install-errors.ts';
import type { InstallLimits } from './install-errors.ts';
import { displayUrl } from './npm-registry.ts';

export interface InstallEgressOptions {
  /** Origins other than the registry's that a package's dist.tarball may point at (https). */
  tarballOrigins?: string[];
  /**
   * The registry and tarballOrigins may be loopback origins (http://127.0.0.1:PORT; tests, a
   * mirror on this host). Off by default: an installer that follows registry data to loopback is a
   * way into the host's own services.
   */
  allowLoopback?: boolean;
  /**
   * The registry and tarballOrigins may be on a private network (RFC 1918, CGNAT, IPv6 ULA: an
   * internal mirror), over https. Off by default. Link-local (cloud metadata) and every other
   * non-public range stay refused, and so does any origin that was not configured.
   */
  allowPrivateNetwork?: boolean;
  /** Default: node:dns. Tests inject one so no lookup happens. */
  resolve?: Resolver;
  /** undici connector; only ever called with an already checked address. */
  connect?: Connector;
}

export type InstallPurpose = 'metadata' | 'tarball' | 'url';

export interface InstallFetch {
  purpose: InstallPurpose;
  /** For messages: "the registry entry of x", "the tarball of x@1.0.0". */
  what: string;
  token?: string;
  maxBytes: number;
  accept?: string;
}

const USER_AGENT = 'payout-sandbox-installer';

function originOf(raw: string, what: string): Target {
  const t = parseTarget(raw.replace(/\/+$/, ''));
  if (!t.ok) throw new InstallError('bad_source', `${what} ${displayUrl(raw)}: ${t.reason}`);
  return t.value;
}

const shownOrigins = (origins: string[]): string => origins.map((o) => displayOrigin(originOf(o, 'origin'))).join(', ') || 'none';

export class InstallEgress {
  /** null when the registry URL does not parse (checkFetchUrl says why when it is used). */
  readonly registryOrigin: string | null;
  private readonly tarballOrigins: Set<string>;
  private readonly loopbacks = new Map<string, AddressInfo>();
  private readonly allowLoopback: boolean;
  private readonly allowPrivateNetwork: boolean;
  private readonly limits: InstallLimits;
  private readonly resolve: Resolver;
  private readonly connect: Connector;
  private readonly caps: EgressCaps;

  constructor(registry: string, limits: InstallLimits, options: InstallEgressOptions = {}) {
    this.limits = limits;
    this.allowLoopback = options.allowLoopback === true;
    this.allowPrivateNetwork = options.allowPrivateNetwork === true;
    const parsedRegistry = parseTarget(registry.replace(/\/+$/, ''));
    const reg = parsedRegistry.ok ? [parsedRegistry.value] : [];
    this.registryOrigin = reg[0]?.origin ?? null;
    const extra = (options.tarballOrigins ?? []).map((o) => originOf(o, 'the tarball origin'));
    this.tarballOrigins = new Set([...reg, ...extra].map((t) => t.origin));
    for (const t of [...reg, ...extra]) {
      const pin = loopbackPin(t);
      if (pin && this.allowLoopback) this.loopbacks.set(t.origin, pin);
    }
    this.caps = {
      connectTimeoutMs: Math.min(10_000, limits.fetchTimeoutMs), totalTimeoutMs: limits.fetchTimeoutMs, maxRequestBodyBytes: 0,
      maxResponseBytes: Math.max(limits.maxMetadataBytes, limits.maxTarballBytes), maxRequestsPerCall: 6, maxRequestsPerMinute: 600, maxRedirects: 5,
    };
    this.resolve = options.resolve ?? defaultResolver();
    this.connect = options.connect ?? defaultConnector(this.caps);
  }

  /** The registry's own origin: where the token may go for metadata and tarballs. */
  isRegistryOrigin(url: string): boolean {
    const t = parseTarget(url);
    return t.ok && t.value.origin === this.registryOrigin;
  }

  private gate(purpose: InstallPurpose): Gate {
    const allowed = purpose === 'metadata' ? new Set(this.registryOrigin ? [this.registryOrigin] : []) : purpose === 'tarball' ? this.tarballOrigins : null;
    let hops = 0;
    return {
      label: 'plugin install',
      loopbackFor: (t) => this.loopbacks.get(t.origin) ?? null,
      loopbackOrigins: () => [...this.loopbacks.keys()],
      privateNetworkAllowed: (t) => this.allowPrivateNetwork && this.tarballOrigins.has(t.origin),
      checkGrant: (t) => {
        if (allowed && !allowed.has(t.origin)) {
          const where = purpose === 'metadata'
            ? `the configured registry (${shownOrigins([...allowed])})`
            : `the registry's origin or an allowed tarball origin (${shownOrigins([...allowed])}; more with tarballOrigins / --npm-tarball-origin)`;
          throw new Refusal('install.origin', `${displayOrigin(t)} is not ${where}`);
        }
        if (t.scheme === 'http' && !this.loopbacks.has(t.origin)) {
          throw new Refusal('install.scheme', `${displayOrigin(t)} is plain http; packages are fetched over https (plain http only from a loopback registry allowed with allowLoopback)`);
        }
      },
      admit: () => {
        if (++hops > this.caps.maxRedirects + 1) throw new Refusal('http.rate.call', 'too many requests for one download');
      },
      onSent: () => {},
    };
  }

  /** One GET through the guard; the body, or an InstallError that says what to do. */
  async get(url: string, f: InstallFetch): Promise<Buffer> {
    const headers: Record<string, string> = { accept: f.accept ?? '*/*' };
    const tokenGoesTo = f.purpose === 'url' ? parseTarget(url) : null;
    if (f.token && (f.purpose === 'url' ? tokenGoesTo?.ok : this.isRegistryOrigin(url))) headers.authorization = `Bearer ${f.token}`;
    let res;
    try {
      res = await guardedRequest({ resolve: this.resolve, connect: this.connect, caps: this.caps, userAgent: USER_AGENT }, this.gate(f.purpose), {
        method: 'GET', url, headers, body: null, maxResponseBytes: f.maxBytes, timeoutMs: this.limits.fetchTimeoutMs,
        deadline: Date.now() + this.limits.fetchTimeoutMs, maxRedirects: this.caps.maxRedirects,
      });
    } catch (err) {
      throw this.failure(err, url, f);
    }
    if (res.status === 401 || res.status === 403) {
      throw new InstallError('unauthorized', `${displayUrl(res.url)} refused ${f.what} (HTTP ${res.status}): ${f.token ? 'the token was not accepted — check the deploy token / the variable named by --registry-token-env' : 'it needs a token: pass --registry-token-env VAR (or the deploy token in the form)'}`);
    }
    if (res.status === 404) throw new InstallError('not_found', `${f.what} not found at ${displayUrl(res.url)} (HTTP 404): check the package name and --registry`);
    if (res.status < 200 || res.status > 299) throw new InstallError('fetch_failed', `${displayUrl(res.url)} answered HTTP ${res.status} for ${f.what}`);
    return res.body;
  }

  private failure(err: unknown, url: string, f: InstallFetch): Error {
    if (err instanceof PolicyDenied) {
      if (err.rule === 'http.response-size') return new InstallError('too_large', `${f.what} from ${displayUrl(url)} is larger than ${mib(f.maxBytes)}; stopped reading`);
      const loopback = /^http\.(loopback|localhost)$/.test(err.rule) || /loopback/.test(err.message);
      const hint = loopback && !this.allowLoopback
        ? '. A registry on this machine must be allowed explicitly (allowLoopback; npmAllowLoopback for the server, --allow-loopback-registry on the command line)'
        : err.rule === 'http.address' && / is (private|carrier-grade NAT)| is uniqueLocal/.test(err.message) && !this.allowPrivateNetwork
          ? '. A registry on the internal network must be allowed explicitly (allowPrivateNetwork; npmAllowPrivateNetwork for the server, --allow-private-registry on the command line)'
          : '';
      // A refused address or origin is a wrong URL or a hostile registry entry (400), not an outage.
      return new InstallError('bad_source', `could not fetch ${f.what} ${displayUrl(url)}: ${err.message}${hint}`);
    }
    if (err instanceof CapabilityError) return new InstallError('fetch_failed', `could not fetch ${f.what} from ${displayUrl(url)}: ${err.message}. Check the URL / --registry and the network`);
    return err instanceof Error ? err : new Error(String(err));
  }
}
