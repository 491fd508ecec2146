import { createKafka, createRedis, runService, type Logger, type RunningService } from "@chat/shared";
import type { GatewayConfig } from "./config.ts";

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
    async ({ logger }) => {
      const log = logger.child({ gatewayId: config.GATEWAY_ID });
      const kafka = await createKafka({ clientId: config.GATEWAY_ID, brokers: config.KAFKA_BROKERS, logger: log });
      const redis = await createRedis({ url: config.REDIS_URL, logger: log, connectionName: config.GATEWAY_ID });
      return { dependencies: [kafka, redis] };
    },
    options,
  );
}
