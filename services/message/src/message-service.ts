import express from "express";
import { Counter, Histogram } from "prom-client";
import {
  createBatchingProducer,
  createConnectionRegistry,
  createDeliveryPublisher,
  createKafka,
  createMongo,
  createRedis,
  createTokenVerifier,
  pipelineTopics,
  superviseConsumer,
  redisKeys,
  requireInternalToken,
  runService,
  type Logger,
  type RunningService,
} from "@chat/shared";
import {
  conversationRecordSchema,
  deadLetterTopicName,
  messageReadSchema,
  messageReadTopic,
  messageSendTopic,
  messageStoredTopic,
  topicName,
} from "@chat/shared/contracts";
import type { ConsumerConfig } from "kafkajs";
import type { MessageConfig } from "./config.ts";
import { runBatchConsumer } from "./pipeline/batch-consumer.ts";
import { createReadHandler } from "./pipeline/handle-reads.ts";
import { createSendHandler } from "./pipeline/handle-sends.ts";
import { createOwnedConversations } from "./pipeline/owned-conversations.ts";
import { createChangeRequester } from "./changes/request-change.ts";
import { createConversationRoutes } from "./routes/conversation-routes.ts";
import { createConversationCreator } from "./conversations/conversation-creator.ts";
import { createInternalRoutes } from "./routes/internal-routes.ts";
import { createPushRoute } from "./routes/push-route.ts";
import { createConversationStore } from "./store/conversation-store.ts";
import { createMessageStore } from "./store/message-store.ts";
import { createSearchFeature } from "./search/message-search-feature.ts";

export interface MessageServiceOptions {
  handleSignals?: boolean;
  logger?: Logger;
}

/** Persists messages from `message.send`, allocates `seq`, fans out delivery events; owns conversations. */
export function startMessageService(config: MessageConfig, options: MessageServiceOptions = {}): Promise<RunningService> {
  return runService(
    "message",
    config,
    config.PORT,
    async ({ logger, app, registry: metrics }) => {
      const prefix = config.KAFKA_TOPIC_PREFIX;
      const kafka = await createKafka({ clientId: "message-service", brokers: config.KAFKA_BROKERS, logger, metrics });
      const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
      const redis = await createRedis({ url: config.REDIS_URL, logger, connectionName: "message" });
      const keys = redisKeys(config.REDIS_PREFIX);

      await kafka.ensureTopics(pipelineTopics(config));

      const conversations = createConversationStore(mongo.db);
      const messages = createMessageStore(mongo.db);
      // Before the indexes: a unique `slot` index cannot be built while old messages lack one.
      const migrated = { messages: await messages.migrateSlots(), conversations: await conversations.migrateInboxes() };
      if (migrated.messages + migrated.conversations > 0) logger.info(migrated, "stored data migrated to key lookups");
      await Promise.all([conversations.ensureIndexes(), messages.ensureIndexes()]);

      const producer = await kafka.createProducer();
      const batching = createBatchingProducer(producer);
      const connections = createConnectionRegistry({ redis: redis.redis, keys });
      const delivery = createDeliveryPublisher({ producer, admin: kafka.admin, registry: connections, topicPrefix: prefix, logger, metrics });
      const processed = new Counter({
        name: "message_records_processed_total",
        help: "Kafka records handled by the message service, by outcome: ok, dead-lettered, or failed (in a try that failed: a dependency away; they are handled again)",
        labelNames: ["topic", "outcome"] as const,
        registers: [metrics],
      });
      const chunkRecords = new Histogram({
        name: "message_consumer_chunk_records",
        help: "Kafka records handled together (one read of their conversations, one insert, one produce, one commit)",
        labelNames: ["topic"] as const,
        buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
        registers: [metrics],
      });
      const conversationReads = new Counter({
        name: "message_conversation_reads_total",
        help: "Conversations a send batch needed, by where their state came from: memory (this consumer's own earlier batches) or the store",
        labelNames: ["source"] as const,
        registers: [metrics],
      });
      const persisted = new Counter({
        name: "message_messages_persisted_total",
        help: "Messages stored (or found already stored, on a replay) and handed to delivery",
        registers: [metrics],
      });

      const group = (suffix: string): ConsumerConfig => ({
        groupId: `${prefix}${config.MESSAGE_CONSUMER_GROUP}${suffix}`,
        sessionTimeout: config.MESSAGE_SESSION_TIMEOUT_MS,
        heartbeatInterval: Math.floor(config.MESSAGE_SESSION_TIMEOUT_MS / 5),
      });
      const sendConsumer = superviseConsumer({
        name: messageSendTopic.name,
        createConsumer: kafka.createConsumer,
        config: group(""),
        logger,
        registry: metrics,
        stalledAfterMs: config.MESSAGE_CONSUMER_STALLED_MS,
        start: (consumer, handling) => {
          const owned = createOwnedConversations({
            onRead: (fromMemory, fromStore) => {
              conversationReads.inc({ source: "memory" }, fromMemory);
              conversationReads.inc({ source: "store" }, fromStore);
            },
          });
          // Partitions may have moved, and been written elsewhere meanwhile.
          consumer.on(consumer.events.GROUP_JOIN, () => owned.clear());
          return runBatchConsumer(consumer, {
            dlqProducer: producer,
            topic: topicName(prefix, messageSendTopic),
            dlqTopic: deadLetterTopicName(prefix, messageSendTopic),
            schema: conversationRecordSchema,
            logger: logger.child({ component: "send-consumer" }),
            processed,
            chunkRecords,
            handle: createSendHandler({
              conversations,
              messages,
              owned,
              maxContentLength: config.MESSAGE_MAX_LENGTH,
              delivery,
              storedTopic: topicName(prefix, messageStoredTopic),
              onPersisted: (n) => persisted.inc(n),
            }),
            handling,
            lingerMs: config.KAFKA_FETCH_LINGER_MS,
          });
        },
      });
      const readConsumer = superviseConsumer({
        name: messageReadTopic.name,
        createConsumer: kafka.createConsumer,
        config: group("-reads"),
        logger,
        registry: metrics,
        stalledAfterMs: config.MESSAGE_CONSUMER_STALLED_MS,
        start: (consumer, handling) =>
          runBatchConsumer(consumer, {
            dlqProducer: producer,
            topic: topicName(prefix, messageReadTopic),
            dlqTopic: deadLetterTopicName(prefix, messageReadTopic),
            schema: messageReadSchema,
            logger: logger.child({ component: "read-consumer" }),
            processed,
            chunkRecords,
            handle: createReadHandler({ conversations, messages, delivery }),
            handling,
            lingerMs: config.KAFKA_FETCH_LINGER_MS,
          }),
      });

      const creator = createConversationCreator({
        conversations,
        authUrl: config.AUTH_URL,
        internalToken: config.INTERNAL_API_TOKEN,
        groupMaxMembers: config.GROUP_MAX_MEMBERS,
      });
      const verifier = createTokenVerifier({ publicKey: config.JWT_PUBLIC_KEY, redis: redis.redis, keys });
      const requestChange = createChangeRequester({
        conversations,
        messages,
        producer: batching,
        sendTopic: topicName(prefix, messageSendTopic),
        maxContentLength: config.MESSAGE_MAX_LENGTH,
      });
      const search = createSearchFeature({
        config,
        createConsumer: kafka.createConsumer,
        consumerConfig: group(""),
        dlqProducer: producer,
        conversations,
        messages,
        verifier,
        logger,
        metrics,
        processed,
        chunkRecords,
      });
      search.start();
      app.use(express.json({ limit: "256kb" }));
      app.use("/api/search", search.routes);
      app.use(
        "/api/conversations",
        createConversationRoutes({
          conversations,
          messages,
          verifier,
          producer: batching,
          sendTopic: topicName(prefix, messageSendTopic),
          creator,
          maxContentLength: config.MESSAGE_MAX_LENGTH,
          requestChange,
        }),
      );
      app.use("/internal", requireInternalToken(config.INTERNAL_API_TOKEN), createInternalRoutes({ conversations, messages, creator, requestChange }), createPushRoute({ conversations, delivery }));

      return {
        dependencies: [kafka, mongo, redis],
        checks: [sendConsumer, readConsumer, batching],
        optional: [search.check],
        shutdown: [
          // Disconnecting waits for the batch in hand; its offsets are committed inside it.
          { name: "stop consumers", run: async () => void (await Promise.all([sendConsumer.stop(), readConsumer.stop(), search.stop()])) },
          { name: "flush producer", run: () => batching.flush() },
        ],
      };
    },
    options,
  );
}
