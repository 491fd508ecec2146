import { timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { UnauthorizedError, bearerToken } from "@chat/shared";

/** `Authorization: Bearer <ADMIN_API_TOKEN>` or 401, compared in constant time (as `/admin/*` does). */
export function requireAdmin(token: string): RequestHandler {
  const want = Buffer.from(token);
  return (req, _res, next) => {
    const got = Buffer.from(bearerToken(req.get("authorization")) ?? "");
    if (got.length !== want.length || !timingSafeEqual(got, want)) next(new UnauthorizedError("Admin token required", "ADMIN_TOKEN_INVALID"));
    else next();
  };
}
