import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import type { Logger } from "@chat/shared";

const VALID_ID = /^[A-Za-z0-9._-]{8,128}$/;

/** Gives every request an id (kept from the client when sane), echoes it, and logs the outcome. */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get("x-request-id");
    const requestId = incoming && VALID_ID.test(incoming) ? incoming : randomUUID();
    req.headers["x-request-id"] = requestId;
    res.setHeader("x-request-id", requestId);
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        { requestId, method: req.method, url: req.originalUrl, status: res.statusCode, ms: Math.round(ms * 10) / 10, userId: res.locals.auth?.userId },
        "request",
      );
    });
    next();
  };
}
