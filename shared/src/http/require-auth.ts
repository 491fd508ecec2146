import type { RequestHandler, Response } from "express";
import { bearerToken, type AccessClaims, type TokenVerifier } from "../auth/token-verifier.ts";

/** Verifies the bearer token and leaves its claims in `res.locals.auth`. */
export function requireAuth(verifier: TokenVerifier): RequestHandler {
  return async (req, res, next) => {
    try {
      res.locals.auth = await verifier.verify(bearerToken(req.headers.authorization));
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** The claims `requireAuth` left on this response. */
export function authOf(res: Response): AccessClaims {
  return res.locals.auth as AccessClaims;
}
