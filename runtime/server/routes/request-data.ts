// Reading request data that no schema typed. Route handlers get body, params and query typed by
// their route's schema (the TypeBox type provider); these helpers are for the few places without
// one: a hook or error handler that runs before (or without) validation, and routes whose schema
// only documents the API while their own code validates. They check what they read instead of
// casting it (test/runtime/server/routes/typed-requests.test.ts keeps casts out).

/** An own property of `data` (a parsed query or params object), or undefined. */
function ownField(data: unknown, name: string): unknown {
  if (typeof data !== 'object' || data === null || !Object.hasOwn(data, name)) return undefined;
  return Reflect.get(data, name);
}

/** A path parameter where no schema typed it. The router fills them with strings; anything else reads as ''. */
export function pathParam(request: { params: unknown }, name: string): string {
  const value = ownField(request.params, name);
  return typeof value === 'string' ? value : '';
}

/** A query field of a route that validates its query itself: unknown until the handler checks it. */
export function queryField(request: { query: unknown }, name: string): unknown {
  return ownField(request.query, name);
}
