// The one place where an error that reaches an HTTP route becomes the one JSON error body
// (runtime/errors.ts): the error classes of every module are mapped onto the registry's codes here,
// and every route's error handler sends what `toHttpError` returns.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, codeForStatus, errorBody, errorMessage, isErrorCode } from '../errors.ts';
import type { ErrorBody, ErrorCode } from '../errors.ts';
import { StoreConflictError, StoreInputError } from '../store/errors.ts';
import { InstallError } from '../install/install-errors.ts';
import { OrderFormError } from '../orders/order-errors.ts';

/** An error a route throws on purpose, with its registry code (and the field it is about). */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly field: string | null;
  readonly code: ErrorCode;
  /** `code` defaults to the generic code of the status (codeForStatus). */
  constructor(statusCode: number, message: string, field: string | null = null, code: ErrorCode = codeForStatus(statusCode)) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.field = field;
    this.code = code;
  }
}

export interface HttpErrorAnswer {
  status: number;
  body: ErrorBody;
  /** A fault of ours (5xx, unknown error): log it with its stack; the caller sees only INTERNAL. */
  fault: boolean;
}

type FastifyLike = Error & { code?: string; statusCode?: number; status?: number; validation?: { instancePath?: string; message?: string }[]; validationContext?: string; field?: string | null };

/** An InstallError's registry code: INSTALL_<its code>. */
export function installErrorCode(err: InstallError): ErrorCode {
  const code = `INSTALL_${err.code.toUpperCase()}`;
  return isErrorCode(code) ? code : 'BAD_REQUEST';
}

/** Maps any thrown value to the status and body an HTTP client gets. `scrub` cleans echoed messages. */
export function toHttpError(err: unknown, scrub: (text: string) => string = (t) => t): HttpErrorAnswer {
  const answer = (code: ErrorCode, message: string, opts: { status?: number; field?: string | null; extra?: Record<string, unknown> } = {}): HttpErrorAnswer => {
    const status = opts.status ?? ERRORS[code].status;
    return { status, body: errorBody(code, message, { ...opts, status }), fault: false };
  };
  if (err instanceof HttpError) return answer(err.code, err.message, { status: err.statusCode, field: err.field });
  if (err instanceof OrderFormError) {
    const extra = err.toBody().error;
    const { field: _f, message: _m, ...rest } = extra;
    return answer(codeForStatus(err.status, 'order'), err.message, { status: err.status, field: err.field, extra: rest });
  }
  if (err instanceof InstallError) return answer(installErrorCode(err), err.message);
  // The store refuses malformed input (a bad date in a filter, say) with a message naming it.
  if (err instanceof StoreInputError) return answer('STORE_INPUT', err.message);
  if (err instanceof StoreConflictError) return answer('STORE_CONFLICT', err.message);
  const e = (err ?? {}) as FastifyLike;
  if (e.validation) {
    const first = e.validation[0];
    const where = `${e.validationContext ?? 'body'}${first?.instancePath ? first.instancePath.replace(/\//g, '.') : ''}`;
    return answer('VALIDATION_FAILED', errorMessage('VALIDATION_FAILED', { where, problem: first?.message ?? 'is invalid' }), { field: where });
  }
  const status = e.statusCode ?? e.status ?? 500;
  if (status >= 400 && status < 500) {
    const code = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'BODY_TOO_LARGE' : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'UNSUPPORTED_MEDIA_TYPE' : codeForStatus(status);
    return answer(code, scrub(String(e.message ?? '')), { status, field: e.field ?? null });
  }
  return { ...answer('INTERNAL', ERRORS.INTERNAL.message, { status: 500 }), fault: true };
}

/**
 * An error safe to log with pino's `{ err }`: message and stack pass the scrubber (a plugin's
 * secret may sit in either), code and name stay for searching the log.
 */
export function loggableError(err: unknown, scrub: (text: string) => string = (t) => t): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const safe = new Error(scrub(e.message));
  safe.name = e.name;
  safe.stack = scrub(String(e.stack ?? e.message));
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(safe, { code });
  return safe;
}

/** The error handler of a route scope: logs faults with `{ err }`, sends the one shape. */
export function sendHttpError(err: unknown, request: FastifyRequest, reply: FastifyReply, opts: { scrub?: (text: string) => string; what?: string } = {}): FastifyReply {
  const a = toHttpError(err, opts.scrub);
  if (a.fault) request.log.error({ err: loggableError(err, opts.scrub) }, opts.what ?? 'request failed');
  return reply.code(a.status).send(a.body);
}

/**
 * The error body in JSON Schema, for routes' documented responses. `error` admits more properties
 * (the merchant API's details and currentStatus): a response schema drops what it does not list.
 */
export function errorBodySchema(description: string): Record<string, unknown> {
  return {
    description,
    type: 'object',
    required: ['statusCode', 'code', 'message', 'error'],
    properties: {
      statusCode: { type: 'integer' },
      code: { type: 'string', description: 'A stable code from the error table (README, "Errors")' },
      message: { type: 'string' },
      error: {
        type: 'object',
        additionalProperties: true,
        properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: ['string', 'null'] } },
      },
    },
  };
}
