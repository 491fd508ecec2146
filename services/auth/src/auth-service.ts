import { createMongo, createRedis, runService, type Logger, type RunningService } from "@chat/shared";
import type { AuthConfig } from "./config.ts";

export interface AuthServiceOptions {
  handleSignals?: boolean;
  logger?: Logger;
}

/** Users, passwords and tokens, over MongoDB and Redis. */
export function startAuthService(config: AuthConfig, options: AuthServiceOptions = {}): Promise<RunningService> {
  return runService(
    "auth",
    config,
    config.PORT,
    async ({ logger }) => {
      const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
      const redis = await createRedis({ url: config.REDIS_URL, logger, connectionName: "auth" });
      return { dependencies: [mongo, redis] };
    },
    options,
  );
}
