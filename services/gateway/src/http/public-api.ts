import express, { Router, type Express, type RequestHandler } from "express";
import helmet from "helmet";
import swaggerUi from "swagger-ui-express";
import { requireAuth, type Logger, type TokenVerifier } from "@chat/shared";
import { buildOpenApiDocument } from "@chat/shared/contracts";
import type { GatewayConfig } from "../config.ts";
import { cors } from "./cors.ts";
import { proxyTo } from "./proxy.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import { requestContext } from "./request-context.ts";
import { mountWebClient } from "./web-client.ts";

export interface PublicApiDeps {
  config: GatewayConfig;
  logger: Logger;
  verifier: TokenVerifier;
  limiter: RateLimiter;
}

/**
 * The gateway's REST edge: security headers, CORS, body limits, request ids, shared rate
 * limits, local JWT checks, OpenAPI docs, and proxying to the internal services.
 */
export function mountPublicApi(app: Express, { config, logger, verifier, limiter }: PublicApiDeps): void {
  const log = logger.child({ component: "http" });
  const ipOf = (req: express.Request) => req.ip ?? "unknown";
  const authenticated = requireAuth(verifier);

  const perIp = (bucket: string, max: number): RequestHandler => async (req, _res, next) => {
    await limiter.hit(`${bucket}:${ipOf(req)}`, max);
    next();
  };
  const perUser: RequestHandler = async (_req, res, next) => {
    await limiter.hit(`user:${res.locals.auth.userId}`, config.RATE_LIMIT_PER_USER);
    next();
  };
  const perAccount: RequestHandler = async (req, _res, next) => {
    const login: unknown = req.body?.login;
    if (typeof login === "string") await limiter.hit(`login:${login.trim().toLowerCase().slice(0, 254)}`, config.RATE_LIMIT_LOGIN_PER_ACCOUNT);
    next();
  };

  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: { "connect-src": ["'self'", "ws:", "wss:"], "img-src": ["'self'", "data:", "https:"] },
      },
    }),
  );
  app.use(cors(config.CORS_ORIGINS));
  app.use(requestContext(log));

  mountWebClient(app, log);

  const openApi = buildOpenApiDocument();
  app.get("/api/openapi.json", (_req, res) => {
    res.json(openApi);
  });
  app.use("/api/docs", swaggerUi.serve, swaggerUi.setup(openApi, { customSiteTitle: "Chat cluster API" }));

  app.use("/api", express.json({ limit: config.BODY_LIMIT_BYTES, strict: true }));

  const auth = Router();
  const toAuth = proxyTo([config.AUTH_URL], log);
  auth.post("/register", perIp("auth-ip", config.RATE_LIMIT_AUTH_PER_IP), toAuth);
  auth.post("/login", perIp("auth-ip", config.RATE_LIMIT_AUTH_PER_IP), perAccount, toAuth);
  auth.post("/refresh", perIp("ip", config.RATE_LIMIT_PER_IP), toAuth);
  auth.use(authenticated, perUser, toAuth);
  app.use("/api/auth", auth);

  app.use("/api/user", authenticated, perUser, toAuth);
  const toMessages = proxyTo(config.MESSAGE_URL, log);
  app.use("/api/conversations", authenticated, perUser, toMessages);
  app.use("/api/search", authenticated, perUser, toMessages);
}

