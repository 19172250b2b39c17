// Hash routing: #/plugins, #/plugins/<key>, #/plugins/<key>/log, #/routes, #/orders?status=…, #/orders/<id>,
// #/audit?plugin=…, #/install?package=…&key=…. The hash never carries the admin or a deploy token.
import { reactive } from '/admin/vendor/vue.runtime.js';

function parse() {
  const raw = location.hash.replace(/^#/, '') || '/plugins';
  const [path, search = ''] = raw.split('?');
  return {
    path,
    parts: path.split('/').filter(Boolean).map((p) => decodeURIComponent(p)),
    query: Object.fromEntries(new URLSearchParams(search)),
  };
}

export const route = reactive(parse());
window.addEventListener('hashchange', () => Object.assign(route, parse()));

export function href(path, query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

export function navigate(path, query) {
  location.hash = href(path, query);
}
