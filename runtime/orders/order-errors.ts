// The one error the order code throws on purpose. It names the field the way the merchant wrote it
// (`toValues[2][value]`, not a JSON pointer) so one message serves JSON and form bodies alike, and
// it carries the HTTP status, so the routes never have to guess what went wrong.
import type { OrderStatus } from '../store/types.ts';

export interface FieldProblem {
  field: string | null;
  message: string;
}

export class OrderFormError extends Error {
  /** The field as the merchant wrote it, or null when the problem is the request as a whole. */
  readonly field: string | null;
  /** 400 malformed, 404 unknown order/route, 409 state conflict, 413 too large, 422 refused, 429, 503. */
  readonly status: number;
  /** Fastify reads `statusCode` when an error escapes a route. */
  readonly statusCode: number;
  /** Every problem found, when there were several (the first is also field/message). */
  readonly details: FieldProblem[];
  /** For transition conflicts: the order's status when the move was refused. */
  readonly currentStatus: OrderStatus | null;

  constructor(field: string | null, message: string, status = 400, extra: { details?: FieldProblem[]; currentStatus?: OrderStatus | null } = {}) {
    super(message);
    this.name = 'OrderFormError';
    this.field = field;
    this.status = status;
    this.statusCode = status;
    this.details = extra.details ?? [];
    this.currentStatus = extra.currentStatus ?? null;
  }

  /** The JSON body the HTTP layer sends: `{ error: { field, message, details? } }`. */
  toBody(): { error: { field: string | null; message: string; details?: FieldProblem[]; currentStatus?: OrderStatus } } {
    return {
      error: {
        field: this.field,
        message: this.message,
        ...(this.details.length > 1 ? { details: this.details } : {}),
        ...(this.currentStatus ? { currentStatus: this.currentStatus } : {}),
      },
    };
  }
}
