// The one registry of the error codes a host answers with (design.md §2: a foundation every layer
// may import). Every HTTP error body carries one of these codes, and the codes are a stable
// interface: clients branch on `code`, never on the wording of `message`. A code is never renamed
// or reused for another meaning; a new kind of error gets a new code (test/runtime/errors.test.ts
// keeps the list). The message templates are the default wording; `{name}` is filled from params.
//
// The error classes of the modules (OrderFormError, InstallError, the store's errors, the admin
// API's HttpError, Fastify's own errors) are mapped onto these codes in one place:
// runtime/server/http-errors.ts.
//
// Below the HTTP codes, the same file lists the other codes a user sees, each once with its
// meaning: why a plugin was refused (PLUGIN_REJECTIONS), which policy rule refused a host call
// (POLICY_RULES) and the code of a failed host call (HOST_CALL_ERRORS). Those wire codes keep their
// spelling (audit records, the admin API, the CLI and plugins already carry them); the classes
// that carry them take only a listed code, so a new one cannot appear without its meaning here.

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

/**
 * Why a plugin cannot be accepted: PluginRejected's `code`, shown as the plugin's `error.code` in
 * the admin API and on the admin page, as `code` by the CLI's check, and in audit summaries.
 */
export const PLUGIN_REJECTIONS = {
  // The folder
  not_found: 'the plugin folder does not exist',
  not_a_folder: 'the path given is a file, not a plugin folder',
  bad_key: 'the folder name (the plugin key) is not a valid key',
  missing_file: 'a file the plugin format requires (configure.js, index.js) is missing',
  // The code
  syntax_error: 'a plugin file does not parse',
  forbidden_require: 'the plugin requires a module the sandbox does not provide',
  computed_require: 'a require() or import() whose name is decided at run time, so it cannot be reviewed',
  too_large: 'the bundle, the admin template or a template file is over its size limit',
  missing_method: 'the plugin class lacks getFields or transfer',
  // The manifest
  manifest_invalid: 'the manifest (configure.js or definePayoutPlugin) is malformed',
  manifest_timeout: 'reading the manifest ran out of CPU time',
  // Cron
  cron_invalid: 'initCron failed or returned no valid { schedule, fn }',
  cron_refused: 'the cron job makes db calls the host refuses, so it would fail on every run',
  // The admin settings template (templates/admin.js)
  no_admin_template: 'the plugin has no templates/admin.js',
  template_dynamic_read: 'the admin template reads a file whose name is not a literal path',
  template_missing_file: 'the admin template reads a file that does not exist',
  template_outside: 'the admin template reads a file outside its templates folder',
  template_file_type: 'the admin template reads a file that is not text',
  // Approval
  unapproved: 'the host requires approval and this plugin folder has none',
  tampered: 'the files differ from the content hash that was approved',
  hash_failed: 'the plugin folder could not be hashed to compare it with its approval',
  // Loading in the sandbox (the sandbox's failure kind, kept as the code)
  load_failed: 'the bundle or the plugin constructor threw while loading',
  plugin_error: 'the plugin threw while loading',
  cpu_limit: 'loading the plugin ran out of CPU time',
  memory_limit: 'loading the plugin ran out of memory',
  deadline: 'loading the plugin did not finish in time',
  isolate_reset: 'the plugin\'s isolate was reset while loading',
  not_loaded: 'the sandbox has no such plugin loaded',
  bad_result: 'the sandbox\'s answer while loading could not be read',
  bad_request: 'the host could not hand the plugin to the sandbox',
  sandbox_crashed: 'the sandbox process died while loading the plugin',
  circuit_open: 'the plugin faulted too often recently; loading is refused until the breaker closes',
  throttled: 'the plugin is over its CPU budget or its queue is full',
  sandbox_unavailable: 'the plugin\'s sandbox process is starting or could not start',
} as const satisfies Record<string, string>;

export type PluginRejectionCode = keyof typeof PLUGIN_REJECTIONS;

export function isPluginRejectionCode(code: unknown): code is PluginRejectionCode {
  return typeof code === 'string' && Object.hasOwn(PLUGIN_REJECTIONS, code);
}

/**
 * The policy rules that refuse a plugin's host call: PolicyDenied's `rule`, the `rule` of the
 * call's audit record (decision `denied`), and the `rule` the plugin's error carries.
 */
export const POLICY_RULES = {
  'unknown-capability': 'the plugin called a host capability that does not exist',
  schema: 'the call\'s arguments do not match the capability\'s schema',
  // Host-call caps (README, Host-call caps)
  'host.call-ended': 'the plugin call this host call belongs to has ended',
  'host.calls-per-call': 'over the host calls allowed in one plugin call',
  'host.calls-per-minute': 'over the host calls allowed per minute',
  'host.arg-bytes': 'the arguments of one host call are over their size limit',
  'host.bytes-per-call': 'over the argument bytes allowed in one plugin call',
  'host.bytes-per-minute': 'over the argument bytes allowed per minute',
  // config
  'config.unknown-plugin': 'the plugin is not registered',
  'config.undeclared-key': 'the key is not declared in the plugin\'s manifest',
  'config.unset': 'the setting has no value',
  'config.secret-too-short': 'the secret is shorter than the minimum length',
  'config.secret-host-side': 'an SDK-format plugin asked for a secret, which it may use only through ctx.http',
  // history (updateHistory)
  'history.forbidden-status': 'a plugin may move an order only to done or errorPayout',
  'history.no-live-payout': 'the order has no payout of this plugin in progress',
  'history.not-own-order': 'the order is not a payout of this plugin',
  'history.stale-old-status': 'oldStatus does not match the order\'s status',
  'history.wrong-current-status': 'only an order in inProgressPayout can be settled by a plugin',
  // OrderPayoutTxs
  'payoutTxs.field': 'an unknown field in a filter',
  'payoutTxs.filter': 'a filter is malformed or too large',
  'payoutTxs.foreign-module': 'a plugin may query only its own payout txs',
  'payoutTxs.operator': 'an operator that is not allowed there',
  'payoutTxs.readonly-field': 'a plugin may change only active and note',
  'payoutTxs.sort': 'a sort value other than 1, -1, asc or desc',
  'payoutTxs.update-operator': 'an update other than {$set: {...}}',
  'payoutTxs.populate': 'populate may only name order',
  'payoutTxs.cast': 'a value cannot be cast to the field\'s type (the platform\'s CastError)',
  // webhook.verify
  'webhook.verify.no-scheme': 'the manifest declares no webhook.signature',
  'webhook.verify.outside-webhook': 'only the webhook() method may verify a delivery',
  // http.request and the IPN sender (the egress guard)
  'http.url': 'the URL is empty, too long or malformed',
  'http.scheme': 'only http and https URLs are allowed',
  'http.host-spelling': 'the host is written in an ambiguous form (percent-encoded, zone id, …)',
  'http.grant': 'the origin is not granted to the plugin',
  'http.grant.method': 'the method is not granted for the origin',
  'http.grant.path': 'the path is outside the paths granted for the origin',
  'http.address': 'the host resolves to an address that may not be contacted',
  'http.loopback': 'a loopback address, reachable only at an origin allowed by that exact address and port',
  'http.localhost': 'localhost by name, reachable only when that exact origin is allowed by name',
  'http.remote-address': 'the connection reached an address that may not be contacted; nothing was sent',
  'http.redirect': 'a redirect was not followed',
  'http.redirect.max': 'more redirects than allowed',
  'http.request-size': 'the request body is over its size limit',
  'http.response-size': 'the response is over its size limit',
  'http.rate.call': 'over the requests allowed in one plugin call',
  'http.rate.minute': 'over the requests allowed per minute',
  'http.call-ended': 'the plugin call this request belongs to has ended',
  'http.not-recorded': 'the request could not be recorded before sending, so it was not sent',
  'http.secrets': 'host-side secrets are not available on this host',
  'http.secret-origin': 'a secret may go only to the origin its manifest binds it to',
  // The server's own outbound requests, refused by the same guard (audited, never a plugin's call)
  'ipn.method': 'an IPN is sent only as one POST',
  'install.origin': 'the package is fetched only from the registry or an allowed tarball origin',
  'install.scheme': 'packages are fetched over https (plain http only from an allowed loopback registry)',
} as const satisfies Record<string, string>;

export type PolicyRule = keyof typeof POLICY_RULES;

/**
 * The `code` of the error a plugin's host call fails with: HOST_DENIED (with the policy rule as
 * `rule`), a fault of the host or of the sandbox's call plumbing, or why a capability failed for a
 * reason that is not policy (CapabilityError's code, lower case).
 */
export const HOST_CALL_ERRORS = {
  HOST_DENIED: 'a policy rule refused the call; the error\'s rule names it (the policy rules above)',
  HOST_ERROR: 'the call failed inside the host; the administrator finds the details in the server log',
  NO_CALL: 'a host call while the host is not calling the plugin (work left running after its call ended)',
  TOO_LARGE: 'the host call\'s arguments are over the sandbox\'s size limit',
  TOO_MANY_TIMERS: 'more timers in one plugin call than allowed',
  dns: 'the host name could not be resolved',
  connect_timeout: 'the connection was not established in time',
  tls: 'the TLS handshake failed',
  timeout: 'the request did not complete in time',
  network: 'the connection failed or broke',
  deadline: 'the plugin call\'s deadline passed during the request',
  grants: 'the plugin\'s grants could not be read',
} as const satisfies Record<string, string>;

export type HostCallErrorCode = keyof typeof HOST_CALL_ERRORS;

/** The codes of a capability's own failure (CapabilityError): the lower-case ones. */
export type CapabilityFailureCode = Exclude<HostCallErrorCode, Uppercase<HostCallErrorCode>>;
