import type { ErrorRequestHandler, RequestHandler } from "express";
import { NotFoundError, PayloadTooLargeError, RateLimitedError, ValidationError, toErrorBody } from "../errors.ts";
import type { Logger } from "../logger.ts";

/** body-parser reports its failures as plain errors with a `type`; give them our shape. */
function fromBodyParser(err: unknown): unknown {
  const type = (err as { type?: unknown } | null)?.type;
  if (type === "entity.too.large") return new PayloadTooLargeError("Request body is too large");
  if (type === "entity.parse.failed") return new ValidationError("Malformed JSON body");
  if (type === "encoding.unsupported" || type === "charset.unsupported") return new ValidationError("Unsupported body encoding");
  return err;
}

/** The one place where errors become HTTP responses: `{ error: { code, message, details? } }`. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (rawErr, req, res, _next) => {
    const err = fromBodyParser(rawErr);
    const { status, body } = toErrorBody(err);
    if (status >= 500) logger.error({ err, method: req.method, url: req.originalUrl }, "request failed");
    if (err instanceof RateLimitedError) res.setHeader("Retry-After", String(err.retryAfterSeconds));
    if (res.headersSent) return;
    res.status(status).json({ error: body });
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`No route for ${req.method} ${req.path}`, "ROUTE_NOT_FOUND"));
};
