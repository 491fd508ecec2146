import { timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { UnauthorizedError } from "../errors.ts";

/** The header service-to-service calls carry. */
export const INTERNAL_TOKEN_HEADER = "x-internal-token";

/** Guards `/internal/*`: only callers holding the cluster's shared internal token get in. */
export function requireInternalToken(expected: string): RequestHandler {
  const want = Buffer.from(expected);
  return (req, _res, next) => {
    const got = Buffer.from(req.get(INTERNAL_TOKEN_HEADER) ?? "");
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      next(new UnauthorizedError("Internal token required", "INTERNAL_TOKEN_INVALID"));
      return;
    }
    next();
  };
}
