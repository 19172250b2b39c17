// The admin page (/admin/) and the sandboxed frame each plugin's own settings template runs in.
//
// Two documents with two very different levels of trust:
// - /admin/ is ours. It holds the admin token (sessionStorage) and calls /api/admin/* with it.
//   Its CSP allows only our own scripts, no eval, and frames only under /admin/plugin-frame/.
// - /admin/plugin-frame/<key> runs the plugin's admin.js + admin.html (untrusted) with Vue's
//   runtime template compiler. It is loaded by URL into <iframe sandbox="allow-scripts">, and its
//   own CSP repeats the sandbox (so it is an opaque origin even when opened directly), lets it load
//   exactly three scripts, and gives it no network at all (connect/img/form/frame/font all 'none'
//   or data:). It never sees the token: the only way out is a MessagePort the parent validates.
// The frame URLs carry a short-lived ticket (HMAC, minted by the authenticated frame endpoint) so
// that which plugins exist, and their template code, are not public. The template served is the one
// bundled when the plugin was loaded and approved (plugins/served-files.ts), never the file on disk now.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Host } from '../host.ts';
import { HttpError, documentAdminAuth, requireAdmin } from './admin-auth.ts';
import { pathParam } from './request-data.ts';
import { bundleAdminTemplate } from '../../bundler/admin-template.ts';
import type { AdminTemplateBundle } from '../../bundler/admin-template.ts';
import { PLUGIN_KEY_PATTERN } from '../../bundler/plugin-files.ts';
import { configKeys } from '../../manifest/manifest.ts';

const UI_DIR = fileURLToPath(new URL('../../admin-ui/', import.meta.url));
const VUE_DIST = path.join(path.dirname(createRequire(import.meta.url).resolve('vue/package.json')), 'dist');
/** The parent page gets Vue's runtime-only build (no eval); only the frame gets the compiler. */
const VENDOR: Record<string, string> = {
  'vue.runtime.js': path.join(VUE_DIST, 'vue.runtime.esm-browser.prod.js'),
  'vue.global.js': path.join(VUE_DIST, 'vue.global.prod.js'),
};
const UI_FILE = /^[a-z0-9][a-z0-9-]*(?:\/[a-z0-9][a-z0-9-]*)*\.(js|css)$/;
const HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const CONTENT_TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
const TICKET_TTL_SECONDS = 15 * 60;
/** What a set secret looks like to the frame; the parent refuses to save this string as a secret. */
export const SECRET_MASK = '********';
export const SET_CONFIG_PATH = 'admin/merchant-and-payout/set-config-payout';

/** Features neither document needs; a frame cannot be granted more than its parent has. */
const PERMISSIONS_POLICY = ['camera', 'microphone', 'geolocation', 'payment', 'usb', 'serial', 'hid', 'midi',
  'clipboard-read', 'clipboard-write', 'display-capture', 'fullscreen', 'publickey-credentials-get', 'screen-wake-lock']
  .map((f) => `${f}=()`).join(', ');

function originOf(request: FastifyRequest): string {
  const host = request.host;
  // The origin goes into a CSP header: anything but a plain host[:port] could inject directives.
  if (!HOST_HEADER.test(host)) throw new HttpError(400, 'bad Host header');
  return `${request.protocol}://${host}`;
}

export function parentCsp(origin: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    // Also checked on every navigation of the plugin frame, including ones the frame starts
    // itself: a frame that sets location.href to an outside URL is stopped before a request is
    // sent (Chromium may still open a bare connection to that host; see the README).
    `frame-src ${origin}/admin/plugin-frame/`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function frameCsp(origin: string, key: string): string {
  return [
    "default-src 'none'",
    // Exactly three scripts (path-exact sources, so a dynamically added <script src> elsewhere —
    // even on our own origin — is refused; CSP ignores the query string, so those three URLs with
    // any query are the frame's only requests, all to this server). 'unsafe-eval' because Vue compiles the plugin's
    // template at run time with new Function(); acceptable only here, in an opaque-origin sandbox
    // with no network, no storage and no token, and never on the admin page itself.
    `script-src ${origin}/admin/vendor/vue.global.js ${origin}/admin/ui/frame/frame-runtime.js ${origin}/admin/plugin-frame/${key}/template.js 'unsafe-eval'`,
    // Inline styles: templates use style="…" (and Vue may insert static markup as HTML). CSS
    // cannot reach the network from here — url() needs img-src (data: only) or font-src (none),
    // @import needs style-src (our one file) — and script could restyle the page anyway.
    `style-src ${origin}/admin/ui/frame/frame.css 'unsafe-inline'`,
    'img-src data:',
    "connect-src 'none'",
    "font-src 'none'",
    "media-src 'none'",
    "object-src 'none'",
    "frame-src 'none'",
    "worker-src 'none'",
    "manifest-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
    // The sandbox again, from the server: opened directly in a tab the page is still opaque.
    'sandbox allow-scripts',
  ].join('; ');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function frameHtml(key: string, ticket: string, title: string): string {
  const q = `?t=${encodeURIComponent(ticket)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} settings</title>
<link rel="stylesheet" href="/admin/ui/frame/frame.css">
</head>
<body>
<div id="ps-frame-status" role="status">Loading the plugin's settings…</div>
<div id="app"></div>
<div id="ps-notices" aria-live="polite"></div>
<script src="/admin/vendor/vue.global.js"></script>
<script src="/admin/ui/frame/frame-runtime.js"></script>
<script src="/admin/plugin-frame/${key}/template.js${q}"></script>
</body>
</html>
`;
}

function errorHtml(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Plugin settings</title></head><body><p>${escapeHtml(message)}</p></body></html>\n`;
}

/** schema / domain / server_path (the platform's props) from the host's public URL. */
function publicUrlProps(publicUrl: string) {
  const url = new URL(publicUrl);
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  return {
    schema: url.protocol.replace(/:$/, ''),
    domain: url.host,
    server_path: url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`,
    // Not known to the server unless configured; a literal address in the public URL is used as is.
    publicIpV4: process.env.PAYOUT_SANDBOX_PUBLIC_IPV4 ?? (/^\d{1,3}(\.\d{1,3}){3}$/.test(literal) ? literal : ''),
    publicIpV6: process.env.PAYOUT_SANDBOX_PUBLIC_IPV6 ?? (literal.includes(':') ? literal : ''),
  };
}

// The hidden routes' schemas only type what the router fills (path parameters are always strings).
// The ticket is `unknown`: a missing or repeated `t` is answered by the frame's own 403 page, so it
// is checked by ticketValid rather than refused by a validator with a JSON error.
const KeyParams = Type.Object({ key: Type.String() });
const TicketQuery = Type.Object({ t: Type.Optional(Type.Unknown()) });

export async function adminPageRoutes(plain: FastifyInstance, opts: { host: Host }): Promise<void> {
  const { host } = opts;
  // Request data is typed by each route's schema (the same schema validates it and documents it).
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  // Derived from the admin token: stable across restarts and across instances behind one load
  // balancer, and whoever could forge it already holds the token.
  const ticketSecret = crypto.createHmac('sha256', host.options.adminToken).update('payout-sandbox admin frame ticket v1').digest();
  const mac = (payload: string) => crypto.createHmac('sha256', ticketSecret).update(payload).digest('base64url');
  const issueTicket = (key: string) => {
    const exp = Math.floor(Date.now() / 1000) + TICKET_TTL_SECONDS;
    return `${exp}.${mac(`${key}.${exp}`)}`;
  };
  const ticketValid = (key: string, ticket: unknown): ticket is string => {
    if (typeof ticket !== 'string') return false;
    const [exp, given] = ticket.split('.');
    if (!/^\d{1,12}$/.test(exp ?? '') || Number(exp) < Date.now() / 1000 || !given) return false;
    const expected = Buffer.from(mac(`${key}.${exp}`));
    const got = Buffer.from(given);
    return got.length === expected.length && crypto.timingSafeEqual(got, expected);
  };

  // The bundle taken when this version of the plugin was loaded (plugins/served-files.ts).
  const templateBundle = (key: string) => host.registry.get(key)?.served?.adminTemplate ?? null;

  const common = (reply: FastifyReply) => reply
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');

  app.get('/admin', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/admin/'));

  app.get('/admin/', { schema: { hide: true } }, async (request, reply) => {
    common(reply)
      .header('content-security-policy', parentCsp(originOf(request)))
      .header('x-frame-options', 'DENY')
      .header('cross-origin-opener-policy', 'same-origin')
      .header('permissions-policy', PERMISSIONS_POLICY)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8');
    return fs.readFileSync(path.join(UI_DIR, 'index.html'), 'utf8');
  });

  // No params schema: TypeBox cannot compile a property named '*' (it becomes an invalid pattern).
  app.get('/admin/ui/*', { schema: { hide: true } }, async (request, reply) => {
    const rel = pathParam(request, '*');
    const file = path.join(UI_DIR, rel);
    if (!UI_FILE.test(rel) || !file.startsWith(UI_DIR) || !fs.existsSync(file)) throw new HttpError(404, `no admin page file '${rel}'`);
    common(reply).header('cache-control', 'no-cache').type(CONTENT_TYPES[path.extname(file).slice(1)]);
    return fs.readFileSync(file, 'utf8');
  });

  app.get('/admin/vendor/:file', { schema: { hide: true, params: Type.Object({ file: Type.String() }) } }, async (request, reply) => {
    // Own names only: 'constructor' or 'toString' would reach Object.prototype (a 500, not a 404).
    const file = Object.hasOwn(VENDOR, request.params.file) ? VENDOR[request.params.file] : undefined;
    if (!file) throw new HttpError(404, 'no such vendor file');
    common(reply).header('cache-control', 'public, max-age=3600').type(CONTENT_TYPES.js);
    return fs.readFileSync(file, 'utf8');
  });

  app.get('/admin/plugin-frame/:key', { schema: { hide: true, params: KeyParams, querystring: TicketQuery } }, async (request, reply) => {
    const { key } = request.params;
    const { t } = request.query;
    const origin = originOf(request);
    common(reply)
      .header('content-security-policy', frameCsp(origin, PLUGIN_KEY_PATTERN.test(key) ? key : 'invalid'))
      .header('permissions-policy', PERMISSIONS_POLICY)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8');
    if (!PLUGIN_KEY_PATTERN.test(key) || !ticketValid(key, t)) {
      return reply.code(403).send(errorHtml('This settings link is missing, wrong or expired. Open the plugin from the admin page again.'));
    }
    const e = host.registry.get(key);
    if (!e?.plugin) return reply.code(404).send(errorHtml(`Plugin '${key}' is not loaded.`));
    return frameHtml(key, t, e.plugin.manifest.title);
  });

  app.get('/admin/plugin-frame/:key/template.js', { schema: { hide: true, params: KeyParams, querystring: TicketQuery } }, async (request, reply) => {
    const { key } = request.params;
    const { t } = request.query;
    common(reply).header('cache-control', 'no-store').type(CONTENT_TYPES.js);
    if (!PLUGIN_KEY_PATTERN.test(key) || !ticketValid(key, t)) return reply.code(403).send('/* settings link expired */\n');
    const bundle = templateBundle(key);
    if (!bundle) return reply.code(404).send('/* plugin not loaded */\n');
    if (bundle.ok) return bundle.bundle.code;
    // Still valid JS, so the frame can say why instead of showing nothing.
    return `window.__psAdminTemplateError = ${JSON.stringify(host.scrubber.scrub(bundle.error))};\n`;
  });

  // What the admin page needs to open a plugin's settings frame. Authenticated like the rest of
  // /api/admin/ (this route is registered outside app.ts's admin scope, so it adds the hook itself).
  const frameRoute = {
    onRequest: requireAdmin(host.options.adminToken),
    schema: { tags: ['admin'], summary: "Props and URL for a plugin's sandboxed settings frame (secrets masked)", params: KeyParams },
  };
  documentAdminAuth(frameRoute);
  app.get('/api/admin/plugins/:key/frame', frameRoute, async (request) => {
    const { key } = request.params;
    const e = host.registry.get(key);
    if (!e) throw new HttpError(404, `no plugin '${key}'; GET /api/admin/plugins lists them`, 'payoutKey');
    if (!e.plugin) throw new HttpError(409, `plugin '${key}' is not loaded (${e.error?.message ?? 'refused'}); fix it and reload before configuring it`);
    const view = await host.hostApi.config.view(key);
    const declared = configKeys(e.plugin.manifest);
    const config: Record<string, string | number | boolean | null> = {};
    for (const entry of view) config[entry.key] = entry.secret ? (entry.set ? SECRET_MASK : '') : entry.value;
    let template: { available: boolean; error: string | null } = { available: false, error: null };
    const bundle = templateBundle(key);
    if (bundle) template = bundle.ok ? { available: true, error: null } : { available: false, error: bundle.error };
    return {
      key,
      title: e.plugin.manifest.title,
      template,
      frameUrl: template.available ? `/admin/plugin-frame/${key}?t=${encodeURIComponent(issueTicket(key))}` : null,
      props: { ...publicUrlProps(host.options.publicUrl), payoutKey: key, config },
      keys: declared.map(({ key: k, secret }) => ({ key: k, secret, set: view.find((v) => v.key === k)?.set ?? false })),
      secretMask: SECRET_MASK,
      path: SET_CONFIG_PATH,
    };
  });
}
