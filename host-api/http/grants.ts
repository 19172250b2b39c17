// The origins an administrator grants a plugin (README, *Network access*): their validation and
// normalisation, whether a request's target is within them (origin, method, path prefix), and
// where a plugin's host-side secrets may be sent. Used by http.request (host-api/http.ts) and,
// for loopback origins, by the server's own egress.
import { PolicyDenied } from '../capability.ts';
import { displayOrigin, loopbackPin, parseTarget, type AddressInfo, type Target } from './address-policy.ts';
import { ALLOWED_METHODS } from './args.ts';
import { Refusal } from './egress.ts';

/** One origin an administrator approved for a plugin. */
export interface Grant {
  /** `https://api.example.com:443`; the default port may be left out. */
  origin: string;
  /** `/v1/` — requests must stay under it (segment-wise). null: any path. */
  pathPrefix: string | null;
  /** Upper-case method names. null: any allowed method. */
  methods: string[] | null;
}

export interface NormalGrant {
  origin: string;
  pathPrefix: string | null;
  methods: string[] | null;
  loopback: AddressInfo | null;
}

/** Validates and normalises a grant (admin page and `--grant` should call this on input). Throws Error. */
export function normaliseGrant(g: Grant): Grant {
  const n = toNormalGrant(g);
  return { origin: n.origin, pathPrefix: n.pathPrefix, methods: n.methods };
}

export function toNormalGrant(g: Grant): NormalGrant {
  if (!g || typeof g !== 'object' || typeof g.origin !== 'string') throw new Error('a grant needs an origin string');
  const raw = g.origin.endsWith('/') ? g.origin.slice(0, -1) : g.origin;
  const p = parseTarget(raw);
  if (!p.ok) throw new Error(`grant origin ${JSON.stringify(g.origin)}: ${p.reason}`);
  if (p.value.pathname !== '/' || p.value.search !== '' || /^[a-z]+:\/\/[^/?#]*[/?#]/i.test(raw)) {
    throw new Error(`grant origin ${JSON.stringify(g.origin)} must be scheme://host[:port] only; put a path in pathPrefix`);
  }
  let pathPrefix: string | null = null;
  if (g.pathPrefix !== null && g.pathPrefix !== undefined) {
    const pp = g.pathPrefix;
    let canonical = '';
    try {
      canonical = new URL(pp, 'http://x').pathname;
    } catch {}
    if (typeof pp !== 'string' || !pp.startsWith('/') || canonical !== pp || /%2f|%5c/i.test(pp)) {
      throw new Error(`grant pathPrefix ${JSON.stringify(pp)} must be a plain absolute path such as /v1/`);
    }
    pathPrefix = pp;
  }
  let methods: string[] | null = null;
  if (g.methods !== null && g.methods !== undefined) {
    if (!Array.isArray(g.methods) || g.methods.length === 0) throw new Error('grant methods must be null or a non-empty list');
    methods = g.methods.map((m) => {
      const u = String(m).toUpperCase();
      if (!ALLOWED_METHODS.includes(u)) throw new Error(`grant method ${JSON.stringify(m)} is not one of ${ALLOWED_METHODS.join(', ')}`);
      return u;
    });
  }
  return { origin: p.value.origin, pathPrefix, methods, loopback: loopbackPin(p.value) };
}

function underPrefix(prefix: string, pathname: string): boolean {
  if (pathname === prefix || pathname.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)) {
    // The server may decode %2F, %5C or %2E%2E after our check and walk out of the prefix.
    for (const seg of pathname.split('/')) {
      let d: string;
      try {
        d = decodeURIComponent(seg);
      } catch {
        return false;
      }
      if (d.includes('/') || d.includes('\\') || d === '.' || d === '..') return false;
    }
    return true;
  }
  return false;
}

/**
 * Where a plugin's host-side secrets may go. A secret is applied only to a request whose origin
 * its manifest binds it to (`network: [{ origin, secrets: ['apiKey'] }]`); a manifest that binds
 * no secret at all may use them only while the plugin has exactly one granted origin. Otherwise a
 * plugin granted its provider and one more origin (a "rates" or "status" server it controls)
 * could have the host send its provider's credentials — or signatures made with them — there.
 */
export function checkSecretBinding(plugin: string, keys: string[], origin: string, grants: NormalGrant[], network: readonly { origin: string; secrets?: readonly string[] }[] | undefined): void {
  const bound = (network ?? []).filter((n) => Array.isArray(n.secrets) && n.secrets.length > 0);
  const sameOrigin = (o: string) => {
    const p = parseTarget(o.endsWith('/') ? o.slice(0, -1) : o);
    return p.ok && p.value.origin === origin;
  };
  for (const key of keys) {
    const allowed = bound.length > 0
      ? bound.some((n) => n.secrets!.includes(key) && sameOrigin(n.origin))
      : grants.length === 1 && grants[0].origin === origin;
    if (!allowed) {
      throw new PolicyDenied(
        'http.secret-origin',
        bound.length > 0
          ? `http.request refused: plugin '${plugin}' asked the host to send '${key}' to ${origin}, but its manifest binds that secret to ${bound.filter((n) => n.secrets!.includes(key)).map((n) => n.origin).join(', ') || 'no origin'}`
          : `http.request refused: plugin '${plugin}' has ${grants.length} granted origins and its manifest binds no secret to any of them; declare where '${key}' may go (network: [{ origin, secrets: ['${key}'] }])`,
      );
    }
  }
}

export function checkPluginGrant(plugin: string, grants: NormalGrant[], t: Target, method: string): void {
  const same = grants.filter((g) => g.origin === t.origin);
  if (same.length === 0) {
    throw new Refusal(
      'http.grant',
      `${t.origin} is not granted to plugin '${plugin}'. An administrator can grant it in the admin page (Plugins → ${plugin} → Network) or with --grant ${displayOrigin(t)} for \`payout-sandbox call\`.`,
    );
  }
  const byMethod = same.filter((g) => g.methods === null || g.methods.includes(method));
  if (byMethod.length === 0) {
    const granted = [...new Set(same.flatMap((g) => g.methods ?? []))].join(', ');
    throw new Refusal(
      'http.grant.method',
      `${method} is not granted for ${t.origin} to plugin '${plugin}' (granted: ${granted}). An administrator can widen the grant in the admin page (Plugins → ${plugin} → Network).`,
    );
  }
  if (!byMethod.some((g) => g.pathPrefix === null || underPrefix(g.pathPrefix, t.pathname))) {
    const granted = byMethod.map((g) => g.pathPrefix).join(', ');
    throw new Refusal(
      'http.grant.path',
      `${t.pathname} is outside the paths granted for ${t.origin} to plugin '${plugin}' (granted: ${granted}). An administrator can widen the grant in the admin page (Plugins → ${plugin} → Network).`,
    );
  }
}
