import express from "express";
import { createMongo, createRedis, createTokenVerifier, redisKeys, requireInternalToken, runService, type Logger, type RunningService } from "@chat/shared";
import type { AuthConfig } from "./config.ts";
import { createAuthRoutes } from "./routes/auth-routes.ts";
import { createInternalRoutes } from "./routes/internal-routes.ts";
import { createUserRoutes } from "./routes/user-routes.ts";
import { createTokenService } from "./tokens/token-service.ts";
import { createUserStore } from "./users/user-store.ts";

export interface AuthServiceOptions {
  handleSignals?: boolean;
  logger?: Logger;
}

/** Users, passwords and tokens, over MongoDB and Redis. Only this service holds the private key. */
export function startAuthService(config: AuthConfig, options: AuthServiceOptions = {}): Promise<RunningService> {
  return runService(
    "auth",
    config,
    config.PORT,
    async ({ logger, app }) => {
      const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
      const redis = await createRedis({ url: config.REDIS_URL, logger, connectionName: "auth" });
      const keys = redisKeys(config.REDIS_PREFIX);
      const users = createUserStore(mongo.db);
      await users.ensureIndexes();
      const placed = await users.migrateDirectory();
      if (placed > 0) logger.info({ placed }, "users placed in the directory");
      const verifier = createTokenVerifier({ publicKey: config.JWT_PUBLIC_KEY, redis: redis.redis, keys });
      const tokens = createTokenService({
        redis: redis.redis,
        keys,
        privateKey: config.JWT_PRIVATE_KEY,
        accessTtlS: config.ACCESS_TOKEN_TTL_S,
        refreshTtlS: config.REFRESH_TOKEN_TTL_S,
      });
      app.use(express.json({ limit: "16kb" }));
      app.use("/api/auth", createAuthRoutes({ users, tokens, verifier, bcryptCost: config.BCRYPT_COST }));
      app.use("/api/user", createUserRoutes({ users, verifier, redis: redis.redis, keys }));
      app.use("/internal", requireInternalToken(config.INTERNAL_API_TOKEN), createInternalRoutes({ users, tokens, bcryptCost: config.BCRYPT_COST }));
      return { dependencies: [mongo, redis] };
    },
    options,
  );
}
