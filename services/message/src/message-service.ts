import { createKafka, createMongo, createRedis, runService, type Logger, type RunningService } from "@chat/shared";
import type { MessageConfig } from "./config.ts";

export interface MessageServiceOptions {
  handleSignals?: boolean;
  logger?: Logger;
}

/** Persists messages from `message.send`, allocates `seq`, fans out delivery events. */
export function startMessageService(config: MessageConfig, options: MessageServiceOptions = {}): Promise<RunningService> {
  return runService(
    "message",
    config,
    config.PORT,
    async ({ logger }) => {
      const kafka = await createKafka({ clientId: "message-service", brokers: config.KAFKA_BROKERS, logger });
      const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
      const redis = await createRedis({ url: config.REDIS_URL, logger, connectionName: "message" });
      return { dependencies: [kafka, mongo, redis] };
    },
    options,
  );
}
