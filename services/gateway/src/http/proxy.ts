import type { Request, RequestHandler } from "express";
import { createReplicas, DependencyError, type Logger } from "@chat/shared";

const FORWARDED_REQUEST_HEADERS = ["authorization", "content-type", "user-agent", "accept", "x-request-id"];
const RETURNED_RESPONSE_HEADERS = ["content-type", "retry-after", "cache-control"];

function forwardedFor(req: Request): string {
  const prior = req.get("x-forwarded-for");
  const ip = req.ip ?? req.socket.remoteAddress ?? "";
  return prior && req.ip !== req.socket.remoteAddress ? `${prior}, ${ip}` : ip;
}

/**
 * Forwards the request to an internal service (to its replicas in turn, past any that refuses
 * connections: `createReplicas`) and relays its answer. The body was already parsed
 * (size-limited, valid JSON) by the gateway; the internal service validates it.
 */
export function proxyTo(baseUrls: readonly string[], logger: Logger, timeoutMs = 10_000): RequestHandler {
  const replicas = createReplicas(baseUrls);
  return async (req, res) => {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.get(name);
      if (value) headers[name] = value;
    }
    headers["x-forwarded-for"] = forwardedFor(req);
    const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== undefined;
    if (hasBody) headers["content-type"] = "application/json";
    let upstream: Response;
    try {
      const body = hasBody ? JSON.stringify(req.body) : undefined;
      upstream = await replicas.request((base) =>
        fetch(new URL(req.originalUrl, base), { method: req.method, headers, body, signal: AbortSignal.timeout(timeoutMs) }),
      );
    } catch (err) {
      logger.warn({ err, targets: baseUrls, url: req.originalUrl }, "upstream unreachable");
      throw new DependencyError("Upstream service unavailable", err);
    }
    res.status(upstream.status);
    for (const name of RETURNED_RESPONSE_HEADERS) {
      const value = upstream.headers.get(name);
      if (value) res.setHeader(name, value);
    }
    res.send(Buffer.from(await upstream.arrayBuffer()));
  };
}
