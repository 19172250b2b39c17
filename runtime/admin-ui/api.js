// The admin API client. The token lives in sessionStorage of this page's origin only (gone when
// the tab closes) and is sent as a Bearer header; it is never put in a URL, a cookie or a frame.
import { reactive } from '/admin/vendor/vue.runtime.js';

const TOKEN_KEY = 'payout-sandbox.admin-token';

export const session = reactive({
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  /** Why the user was signed out, shown on the sign-in form. */
  notice: '',
});

export function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  session.token = token;
  session.notice = '';
}

export function signOut(notice = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  session.token = '';
  session.notice = notice;
}

export class ApiError extends Error {
  /** `code` is the server's stable error code (README, "Errors"); null when it sent none. */
  constructor(status, message, field, code) {
    super(message);
    this.status = status;
    this.field = field || null;
    this.code = code || null;
  }
}

function urlFor(path, query) {
  const url = new URL(`/api/admin/${path}`, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  return url;
}

async function send(path, { method = 'GET', body, query, token = session.token } = {}) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    return await fetch(urlFor(path, query), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit',
    });
  } catch (err) {
    throw new ApiError(0, `The server did not answer (${err.message}). Is it running?`);
  }
}

async function failure(res, explicitToken) {
  const text = await res.text();
  let message = `The server answered HTTP ${res.status}`;
  let field = null;
  let code = null;
  try {
    const data = JSON.parse(text);
    if (data && data.error && data.error.message) ({ message, field } = data.error);
    if (data && typeof data.code === 'string') code = data.code;
  } catch {
    // not JSON: keep the status line
  }
  // A refused stored token means the session is over; a token being tried at sign-in is not stored.
  if (res.status === 401 && !explicitToken) signOut('The server refused the admin token. Sign in again.');
  return new ApiError(res.status, message, field, code);
}

/** Calls /api/admin/<path>; resolves with the JSON body, rejects with the API's own error message. */
export async function api(path, options = {}) {
  const res = await send(path, options);
  if (!res.ok) throw await failure(res, options.token);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/** Fetches an authenticated image (plugin icons) as a blob: URL; the caller revokes it. */
export async function apiBlobUrl(path) {
  const res = await send(path);
  if (!res.ok) throw await failure(res);
  return URL.createObjectURL(await res.blob());
}
