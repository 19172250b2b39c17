// The customer's order and payment pages: server-rendered, no scripts, one inline stylesheet
// allowed by its hash. Everything shown comes from PublicOrderView (never a secret the customer
// did not already hold) and passes through the escaping `html` tag.
import crypto from 'node:crypto';
import type { OrderLang } from '../../orders/order-form.ts';
import { ORDER_LANGS } from '../../orders/order-form.ts';
import type { PublicOrderView } from '../../orders/order-service.ts';
import { SafeHtml, html } from './html.ts';
import { TEXTS, fill } from './texts.ts';

export type PageKind = 'order' | 'payment';

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:34rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem;margin:0}dt{color:#5b6373}dd{margin:0;overflow-wrap:anywhere}
.status{display:inline-block;padding:.1rem .6rem;border-radius:1rem;background:#e8ecf3}
.status.success{background:#dff3e4}.status.error{background:#fbe3e3}
.notice{padding:.75rem 1rem;border-left:4px solid #3b6fd8;background:#eef3fd}
.button{display:inline-block;margin-top:1.5rem;padding:.6rem 1.2rem;border-radius:6px;background:#3b6fd8;color:#fff;text-decoration:none}
nav{margin-top:2rem;font-size:.9rem;color:#5b6373}nav a{margin-right:.6rem}
`;
const STYLE_HASH = crypto.createHash('sha256').update(STYLE, 'utf8').digest('base64');

/**
 * No script can run and nothing can be loaded: the only thing allowed is the one stylesheet above.
 * form-action/base-uri/frame-ancestors close the remaining ways a page can be abused.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  // The URL holds the order secret: never send it on as a Referer (the return button included).
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
});

/**
 * How often a page reloads itself while the order can still change (no script: a meta refresh,
 * which the page's CSP does not need to allow): often while money moves, seldom while it waits.
 */
export function refreshSeconds(view: Pick<PublicOrderView, 'final' | 'status'>): number | null {
  if (view.final) return null;
  if (view.status === 'inProgress' || view.status === 'inProgressPayout') return 5;
  return 30;
}

function layout(lang: OrderLang, title: string, body: SafeHtml, refresh: number | null = null): string {
  return html`<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
${refresh ? html`<meta http-equiv="refresh" content="${refresh}">` : html``}
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.value;
}

/** Where the page lives, so it can link to its twin and to itself in other languages. */
export interface PagePaths {
  uid: number;
  /** As it appeared in the request path (already percent-encoded). */
  secretSegment: string;
}

function pagePath(lang: OrderLang, kind: PageKind, p: PagePaths): string {
  return `/${lang}/${kind}/${p.uid}/${p.secretSegment}`;
}

function languageLinks(current: OrderLang, kind: PageKind, p: PagePaths): SafeHtml {
  const t = TEXTS[current];
  const links = ORDER_LANGS.filter((l) => l !== current).map((l) => html`<a href="${pagePath(l, kind, p)}" hreflang="${l}">${l.toUpperCase()}</a>`);
  return html`<nav>${t.language}: ${links}</nav>`;
}

function statusBadge(view: PublicOrderView, lang: OrderLang): SafeHtml {
  const t = TEXTS[lang];
  return html`<p>${t.status}: <span class="${view.final ? `status ${view.final}` : 'status'}">${t.statuses[view.status] ?? view.status}</span></p>`;
}

function amounts(view: PublicOrderView, lang: OrderLang): SafeHtml {
  const t = TEXTS[lang];
  const out = view.outSymbol && view.outSymbol !== view.toXml ? `${view.outAmount} ${view.outSymbol} (${view.toXml})` : `${view.outAmount} ${view.toXml}`;
  return html`<dl>
<dt>${t.youSend}</dt><dd>${view.inAmount} ${view.fromXml}</dd>
<dt>${t.youReceive}</dt><dd>${out}</dd>
<dt>${t.created}</dt><dd>${view.createdAt.replace('T', ' ').slice(0, 16)} UTC</dd>
</dl>`;
}

function recipient(view: PublicOrderView, lang: OrderLang): SafeHtml {
  const t = TEXTS[lang];
  if (!view.toValues) return html`<h2>${t.recipient}</h2><p>${t.recipientHidden}</p>`;
  if (!view.toValues.length) return html``;
  const rows = view.toValues.map((v) => html`<dt>${v.name}</dt><dd>${v.value}</dd>`);
  return html`<h2>${t.recipient}</h2><dl>${rows}</dl>`;
}

function returnButton(view: PublicOrderView, lang: OrderLang): SafeHtml {
  if (!view.final || !view.returnUrl) return html``;
  return html`<p><a class="button" href="${view.returnUrl}" rel="noreferrer noopener">${TEXTS[lang].returnToSite}</a></p>`;
}

export function renderOrderPage(kind: PageKind, view: PublicOrderView, lang: OrderLang, paths: PagePaths): string {
  const t = TEXTS[lang];
  if (kind === 'order') {
    const title = fill(t.orderTitle, { uid: view.uid });
    return layout(lang, title, html`<h1>${title}</h1>
${statusBadge(view, lang)}
${amounts(view, lang)}
${recipient(view, lang)}
${returnButton(view, lang)}
${languageLinks(lang, kind, paths)}`, refreshSeconds(view));
  }
  const title = fill(t.paymentTitle, { uid: view.uid });
  const awaiting = view.status === 'new' || view.status === 'waitPayment';
  const instructions = awaiting
    ? html`<p class="notice"><strong>${fill(t.sendExactly, { amount: `${view.inAmount} ${view.fromXml}` })}</strong><br>${t.waiting}</p>`
    : html`<p class="notice">${t.noLongerExpected}</p>`;
  return layout(lang, title, html`<h1>${title}</h1>
${statusBadge(view, lang)}
${instructions}
${amounts(view, lang)}
${returnButton(view, lang)}
<p><a href="${pagePath(lang, 'order', paths)}">${t.toOrderPage}</a></p>
${languageLinks(lang, kind, paths)}`, refreshSeconds(view));
}

/** One page for every failed lookup, whatever was wrong: no way to tell a bad uid from a bad secret. */
export function renderNotFound(lang: OrderLang): string {
  const t = TEXTS[lang];
  return layout(lang, t.notFoundTitle, html`<h1>${t.notFoundTitle}</h1><p>${t.notFoundText}</p>`);
}

/** When rendering itself failed: still HTML, still under the same headers. */
export function renderServerError(lang: OrderLang): string {
  const t = TEXTS[lang];
  return layout(lang, t.errorTitle, html`<h1>${t.errorTitle}</h1><p>${t.errorText}</p>`);
}
