// Administrator authentication for /api/admin/*: `Authorization: Bearer <token>`, compared in
// constant time. The token never appears in responses or logs (the scrubber knows it).
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../../errors.ts';
import { errorBodySchema } from '../http-errors.ts';

// Admin routes import it from here; it lives beside the one mapping of errors to HTTP answers.
export { HttpError } from '../http-errors.ts';

export function sameToken(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b) && given.length === expected.length;
}

export function requireAdmin(token: string) {
  return async function adminOnly(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!given || !token || !sameToken(given, token)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send(errorBody('ADMIN_TOKEN_INVALID'));
    }
  };
}

const AdminAuthError = errorBodySchema('The admin token is missing or wrong (code ADMIN_TOKEN_INVALID)');

/**
 * Says in the OpenAPI document that an admin operation takes the admin bearer token, so the Swagger
 * UI's "Authorize" applies to it and "Try it out" sends the token; and documents its 401. An
 * onRoute hook for the admin scope, or called on a route registered outside it.
 */
export function documentAdminAuth(route: { schema?: unknown }): void {
  const schema = (route.schema ??= {}) as { security?: unknown; response?: Record<string, unknown> };
  schema.security = [{ admin: [] }];
  schema.response = { ...schema.response, 401: AdminAuthError };
}
