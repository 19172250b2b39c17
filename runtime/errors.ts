// The one registry of the error codes a host answers with (design.md §2: a foundation every layer
// may import). Every HTTP error body carries one of these codes, and the codes are a stable
// interface: clients branch on `code`, never on the wording of `message`. A code is never renamed
// or reused for another meaning; a new kind of error gets a new code (test/runtime/errors.test.ts
// keeps the list). The message templates are the default wording; `{name}` is filled from params.
//
// The error classes of the modules (OrderFormError, InstallError, the store's errors, the admin
// API's HttpError, Fastify's own errors) are mapped onto these codes in one place:
// runtime/server/http-errors.ts.

export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export const ERRORS = {
  // Any route
  // Names the method only: an echoed path passes the admin scrubber, which would mark a guessed secret.
  ROUTE_NOT_FOUND: { status: 404, message: 'no {method} route at this path; GET /docs lists the API' },
  BAD_REQUEST: { status: 400, message: 'the request is malformed' },
  VALIDATION_FAILED: { status: 400, message: '{where} {problem}' },
  NOT_FOUND: { status: 404, message: 'not found' },
  FORBIDDEN: { status: 403, message: 'forbidden' },
  CONFLICT: { status: 409, message: 'the request conflicts with the current state; reload and try again' },
  UNPROCESSABLE: { status: 422, message: 'the request was understood but refused' },
  BODY_TOO_LARGE: { status: 413, message: 'the request body is larger than {limit} bytes' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'this media type is not accepted here' },
  RATE_LIMITED: { status: 429, message: 'too many requests: at most {max} per minute here; retry in {after}' },
  UPSTREAM_FAILED: { status: 502, message: 'an upstream server could not be reached or answered badly' },
  UNAVAILABLE: { status: 503, message: 'temporarily unavailable; try again later' },
  INTERNAL: { status: 500, message: 'internal error; the administrator can find details in the server log' },
  // Authentication
  ADMIN_TOKEN_INVALID: { status: 401, message: 'admin token missing or wrong: send Authorization: Bearer <token> (the token is printed at first start, or set PAYOUT_SANDBOX_ADMIN_TOKEN)' },
  METRICS_TOKEN_INVALID: { status: 401, message: 'metrics token missing or wrong: send Authorization: Bearer <token>, the value of PAYOUT_SANDBOX_METRICS_TOKEN (metricsToken) on this server' },
  // Merchant API (OrderFormError, mapped by its status)
  ORDER_INVALID: { status: 400, message: 'the order request is malformed' },
  ORDER_NOT_FOUND: { status: 404, message: 'no order has this uid and secret; check both' },
  ORDER_CONFLICT: { status: 409, message: 'the order or its direction does not allow this now' },
  ORDER_TOO_LARGE: { status: 413, message: 'the body is larger than {limit} bytes; an order is far smaller' },
  ORDER_MEDIA_TYPE: { status: 415, message: 'send the order as application/json or application/x-www-form-urlencoded' },
  ORDER_REFUSED: { status: 422, message: 'the order was refused' },
  ORDER_RATE_LIMITED: { status: 429, message: 'too many requests from your address: at most {max} per minute here; retry in {after}' },
  ORDER_UNAVAILABLE: { status: 503, message: 'the payout method is unavailable now; try again later' },
  // Plugin callbacks (/payout_call/)
  CALLBACK_NOT_FOUND: { status: 404, message: 'no such payout callback here' },
  CALLBACK_BODY_TOO_LARGE: { status: 413, message: 'the request body is over the {limit}-byte limit for payout callbacks; the plugin did not run' },
  CALLBACK_RATE_LIMITED: { status: 429, message: 'too many deliveries to payout plugin {plugin}: at most {max} per minute; retry in {after}' },
  CALLBACK_INBOX_FULL: { status: 429, message: '{detail}; the delivery was neither stored nor processed. Retry later' },
  CALLBACK_INBOX_BYTES: { status: 413, message: '{detail}; the delivery was neither stored nor processed. Retry later' },
  CALLBACK_NOT_RECORDED: { status: 503, message: 'the delivery could not be recorded, so it was not processed; try again later' },
  CALLBACK_PLUGIN_BUSY: { status: 429, message: 'the payout plugin is busy; retry later' },
  CALLBACK_PLUGIN_UNAVAILABLE: { status: 503, message: 'the payout plugin is unavailable now; retry later' },
  CALLBACK_PLUGIN_FAILED: { status: 500, message: 'the payout plugin could not process this request' },
  CALLBACK_PLUGIN_TIMEOUT: { status: 504, message: 'the payout plugin did not answer in time' },
  // Store (the classes in runtime/store/errors.ts carry these codes)
  STORE_INPUT: { status: 400, message: 'the store refused the input' },
  STORE_CONFLICT: { status: 409, message: 'someone else changed the record in between; reload and try again' },
  STORE_TRANSITION: { status: 500, message: 'internal error; the administrator can find details in the server log' },
  STORE_OPEN: { status: 500, message: 'the store could not be opened' },
  // Plugin install (InstallError's code, upper-cased with this prefix)
  INSTALL_BAD_SOURCE: { status: 400, message: 'the install source cannot be understood' },
  INSTALL_FETCH_FAILED: { status: 502, message: 'the registry or tarball URL could not be read' },
  INSTALL_NOT_FOUND: { status: 404, message: 'package, version, tag, folder or staging not found' },
  INSTALL_UNAUTHORIZED: { status: 400, message: 'the registry refused the token' },
  INSTALL_INTEGRITY_MISMATCH: { status: 422, message: 'the tarball differs from the registry\'s integrity value' },
  INSTALL_UNSAFE_ARCHIVE: { status: 422, message: 'the archive is unsafe' },
  INSTALL_TOO_LARGE: { status: 413, message: 'the package is over an install limit' },
  INSTALL_CHECK_FAILED: { status: 422, message: 'the plugin checks refused it' },
  INSTALL_TAMPERED: { status: 409, message: 'files changed after they were checked or approved' },
  INSTALL_CONFLICT: { status: 409, message: 'someone else changed the record or the folder in between' },
  INSTALL_NOTHING_TO_DO: { status: 409, message: 'nothing to do' },
  // The engine a plugin runs on (admin page, README "Which engine to pick")
  ENGINE_UNKNOWN: { status: 400, message: 'no engine has this name; the engines are {engines}' },
  ENGINE_LOAD_FAILED: { status: 422, message: 'the plugin did not load on engine {engine}; it keeps running on {kept}' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** The template of `code` with `{name}` filled from params (a missing param stays visible as `{name}`). */
export function errorMessage(code: ErrorCode, params: Record<string, string | number> = {}): string {
  return ERRORS[code].message.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/**
 * The generic code for an HTTP status, for errors that carry only a status (the admin API's
 * HttpError, a 4xx from a Fastify plugin). `family` picks the merchant API's own codes.
 */
export function codeForStatus(status: number, family: 'generic' | 'order' = 'generic'): ErrorCode {
  const order: Record<number, ErrorCode> = { 400: 'ORDER_INVALID', 404: 'ORDER_NOT_FOUND', 409: 'ORDER_CONFLICT', 413: 'ORDER_TOO_LARGE', 415: 'ORDER_MEDIA_TYPE', 422: 'ORDER_REFUSED', 429: 'ORDER_RATE_LIMITED', 503: 'ORDER_UNAVAILABLE' };
  const generic: Record<number, ErrorCode> = { 400: 'BAD_REQUEST', 401: 'ADMIN_TOKEN_INVALID', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT', 413: 'BODY_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 422: 'UNPROCESSABLE', 429: 'RATE_LIMITED', 502: 'UPSTREAM_FAILED', 503: 'UNAVAILABLE' };
  if (family === 'order' && order[status]) return order[status];
  if (generic[status]) return generic[status];
  return status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
}

/**
 * The one JSON error body of every HTTP route. `statusCode`, `code` and `message` are the shape;
 * `error` repeats code and message beside `field` and any route extras (the merchant API's
 * `details` and `currentStatus`) in the place clients written before this shape read them.
 */
export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  error: { code: ErrorCode; message: string; field: string | null; [extra: string]: unknown };
}

export function errorBody(code: ErrorCode, message: string = errorMessage(code), opts: { status?: number; field?: string | null; extra?: Record<string, unknown> } = {}): ErrorBody {
  return {
    statusCode: opts.status ?? ERRORS[code].status,
    code,
    message,
    error: { code, message, field: opts.field ?? null, ...opts.extra },
  };
}
