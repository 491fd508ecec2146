import { createAmqp, createKafka, createMongo, runService, type RunningService } from "@chat/shared";
import type { WorkerConfig } from "./config.ts";
import type { RoleOptions } from "./scheduler-service.ts";

/** The worker role: consumes `message_sending_queue` and sends AutoMessages through the pipeline. */
export function startWorker(config: WorkerConfig, options: RoleOptions = {}): Promise<RunningService> {
  return runService(
    "worker",
    config,
    config.PORT,
    async ({ logger }) => {
      const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
      const kafka = await createKafka({ clientId: "automessage-worker", brokers: config.KAFKA_BROKERS, logger });
      const amqp = await createAmqp({ url: config.AMQP_URL, logger });
      return { dependencies: [mongo, kafka, amqp] };
    },
    options,
  );
}
