import { Counter } from "prom-client";
import { createAmqp, createBatchingProducer, createKafka, createMongo, pipelineTopics, runService, type RunningService } from "@chat/shared";
import { messageSendTopic, topicName } from "@chat/shared/contracts";
import { createAutoMessageStore } from "./automessages/automessage-store.ts";
import { autoMessageQueues, declareAutoMessageTopology } from "./automessages/topology.ts";
import type { WorkerConfig } from "./config.ts";
import type { RoleOptions } from "./scheduler-service.ts";
import { createAutoMessageWorker } from "./worker/automessage-worker.ts";
import { createDirectConversations } from "./worker/message-service-client.ts";

/** The worker role: consumes `message_sending_queue` and sends AutoMessages through the pipeline. */
export function startWorker(config: WorkerConfig, options: RoleOptions = {}): Promise<RunningService> {
  return runService(
    "worker",
    config,
    config.PORT,
    async ({ logger, registry: metrics }) => {
      const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
      const kafka = await createKafka({ clientId: "automessage-worker", brokers: config.KAFKA_BROKERS, logger, metrics });
      const amqp = await createAmqp({ url: config.AMQP_URL, logger, prefetch: config.WORKER_PREFETCH });
      await kafka.ensureTopics(pipelineTopics(config));
      const store = createAutoMessageStore(mongo.db);
      const queues = autoMessageQueues(config.AMQP_QUEUE_PREFIX, config.AUTOMESSAGE_MAX_ATTEMPTS, config.AUTOMESSAGE_RETRY_BASE);
      await amqp.onConnect((channel) => declareAutoMessageTopology(channel, queues, config.AUTOMESSAGE_RETRY_BASE));
      // A short bound: a Kafka outage surfaces as a retriable failure and the job waits in a
      // delay queue, instead of pinning a prefetch slot for minutes.
      const producer = createBatchingProducer(await kafka.createProducer(), { timeoutMs: 5000 });
      const outcomes = new Counter({
        name: "automessage_worker_jobs_total",
        help: "AutoMessage jobs handled by outcome",
        labelNames: ["outcome"] as const,
        registers: [metrics],
      });
      const worker = createAutoMessageWorker({
        amqp,
        queues,
        store,
        conversations: createDirectConversations({ baseUrl: config.MESSAGE_URL, internalToken: config.INTERNAL_API_TOKEN }),
        producer,
        sendTopic: topicName(config.KAFKA_TOPIC_PREFIX, messageSendTopic),
        maxAttempts: config.AUTOMESSAGE_MAX_ATTEMPTS,
        logger,
        outcomes,
      });
      await worker.start();
      return {
        dependencies: [mongo, kafka, amqp],
        checks: [producer],
        shutdown: [
          { name: "stop consuming", run: () => worker.stop() },
          { name: "flush producer", run: () => producer.flush() },
        ],
      };
    },
    options,
  );
}
