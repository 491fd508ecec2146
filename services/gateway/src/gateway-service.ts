import { createKafka, createRedis, createTokenVerifier, redisKeys, runService, type Logger, type RunningService } from "@chat/shared";
import type { GatewayConfig } from "./config.ts";
import { mountPublicApi } from "./http/public-api.ts";
import { createRateLimiter } from "./http/rate-limiter.ts";

export interface GatewayServiceOptions {
  handleSignals?: boolean;
  logger?: Logger;
}

/** The public edge: REST proxy, Socket.IO, delivery of Kafka events to this replica's sockets. */
export function startGateway(config: GatewayConfig, options: GatewayServiceOptions = {}): Promise<RunningService> {
  return runService(
    "gateway",
    config,
    config.PORT,
    async ({ logger, app }) => {
      const log = logger.child({ gatewayId: config.GATEWAY_ID });
      const kafka = await createKafka({ clientId: config.GATEWAY_ID, brokers: config.KAFKA_BROKERS, logger: log });
      const redis = await createRedis({ url: config.REDIS_URL, logger: log, connectionName: config.GATEWAY_ID });
      const keys = redisKeys(config.REDIS_PREFIX);
      const verifier = createTokenVerifier({ publicKey: config.JWT_PUBLIC_KEY, redis: redis.redis, keys });
      const limiter = createRateLimiter({ redis: redis.redis, keys, windowS: config.RATE_LIMIT_WINDOW_S });
      mountPublicApi(app, { config, logger: log, verifier, limiter });
      return { dependencies: [kafka, redis] };
    },
    options,
  );
}
