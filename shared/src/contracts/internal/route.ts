import type { z } from "../zod.ts";

/**
 * One internal route's contract: what the callee validates and what the caller parses, so a
 * route and its callers cannot drift. `path` takes `:name` parameters.
 */
export interface InternalRoute<Body extends z.ZodTypeAny | undefined, Query extends z.ZodTypeAny | undefined, Response extends z.ZodTypeAny> {
  method: "GET" | "POST";
  path: string;
  body: Body;
  query: Query;
  response: Response;
}

export function internalRoute<Body extends z.ZodTypeAny | undefined, Query extends z.ZodTypeAny | undefined, Response extends z.ZodTypeAny>(
  route: InternalRoute<Body, Query, Response>,
): InternalRoute<Body, Query, Response> {
  return route;
}
