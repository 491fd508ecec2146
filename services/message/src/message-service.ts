import express from "express";
import { Counter, Gauge } from "prom-client";
import {
  createBatchingProducer,
  createConnectionRegistry,
  createDeliveryPublisher,
  createKafka,
  createMongo,
  createRedis,
  createTokenVerifier,
  pipelineTopics,
  authOf,
  requireAuth,
  superviseConsumer,
  validate,
  type SupervisedConsumer,
  redisKeys,
  requireInternalToken,
  runService,
  sendBatchUntil,
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
  searchQuerySchema,
  storedEventSchema,
  topicName,
} from "@chat/shared/contracts";
import type { ConsumerConfig } from "kafkajs";
import type { MessageConfig } from "./config.ts";
import { runBatchConsumer } from "./pipeline/batch-consumer.ts";
import { createReadHandler } from "./pipeline/handle-reads.ts";
import { createSendHandler } from "./pipeline/handle-sends.ts";
import { createChangeRequester } from "./changes/request-change.ts";
import { createConversationRoutes } from "./routes/conversation-routes.ts";
import { createConversationCreator } from "./conversations/conversation-creator.ts";
import { createInternalRoutes } from "./routes/internal-routes.ts";
import { createPushRoute } from "./routes/push-route.ts";
import { createConversationStore } from "./store/conversation-store.ts";
import { createMessageStore } from "./store/message-store.ts";
import { createIndexer } from "./search/indexer.ts";
import { searchIndexNames } from "./search/search-index.ts";
import { createMessageSearch } from "./search/search-messages.ts";
import { createSonicChannel } from "./search/sonic.ts";

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
      const kafka = await createKafka({ clientId: "message-service", brokers: config.KAFKA_BROKERS, logger });
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
      const connections = createConnectionRegistry({ redis: redis.redis, keys, gatewayTtlMs: config.PRESENCE_GATEWAY_TTL_MS });
      const delivery = createDeliveryPublisher({ producer, registry: connections, topicPrefix: prefix });
      const storedTopic = topicName(prefix, messageStoredTopic);
      const processed = new Counter({
        name: "message_records_processed_total",
        help: "Kafka records handled by the message service",
        labelNames: ["topic", "outcome"] as const,
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
        start: (consumer) =>
          runBatchConsumer(consumer, {
            dlqProducer: producer,
            topic: topicName(prefix, messageSendTopic),
            dlqTopic: deadLetterTopicName(prefix, messageSendTopic),
            schema: conversationRecordSchema,
            logger: logger.child({ component: "send-consumer" }),
            processed,
            handle: createSendHandler({
              conversations,
              messages,
              maxContentLength: config.MESSAGE_MAX_LENGTH,
              delivery,
              publishStored: (events) =>
                sendBatchUntil(
                  producer,
                  {
                    acks: -1,
                    topicMessages: [
                      {
                        topic: storedTopic,
                        messages: events.map((e) => ({
                          key: e.type === "message" ? e.message.conversationId : e.change.conversationId,
                          value: JSON.stringify(e),
                          headers: { v: "1", type: e.type === "message" ? "message" : e.change.type },
                        })),
                      },
                    ],
                  },
                  Date.now() + 30_000,
                ),
              onPersisted: (n) => persisted.inc(n),
            }),
          }),
      });
      const readConsumer = superviseConsumer({
        name: messageReadTopic.name,
        createConsumer: kafka.createConsumer,
        config: group("-reads"),
        logger,
        registry: metrics,
        start: (consumer) =>
          runBatchConsumer(consumer, {
            dlqProducer: producer,
            topic: topicName(prefix, messageReadTopic),
            dlqTopic: deadLetterTopicName(prefix, messageReadTopic),
            schema: messageReadSchema,
            logger: logger.child({ component: "read-consumer" }),
            processed,
            handle: createReadHandler({ conversations, messages, delivery }),
          }),
      });

      // Search: Sonic fed from `message.stored` by its own consumer group, which runs only while
      // the engine is connected (it catches up from its committed offsets when it is back).
      const searchNames = searchIndexNames(`${prefix}${config.SEARCH_COLLECTION}`);
      const engineUp = new Gauge({ name: "search_engine_connected", help: "1 while every channel to the search engine is connected", registers: [metrics] });
      const indexed = new Counter({ name: "search_index_operations_total", help: "Search index operations by kind (one per bucket)", labelNames: ["op"] as const, registers: [metrics] });
      const sonic = { host: config.SEARCH_HOST, port: config.SEARCH_PORT, password: config.SEARCH_PASSWORD, logger };
      const searchChannel = createSonicChannel("search", { ...sonic, onStateChange: () => syncIndexer() });
      const ingestChannels = Array.from({ length: config.SEARCH_INGEST_CHANNELS }, () => createSonicChannel("ingest", { ...sonic, onStateChange: () => syncIndexer() }));
      const indexStored = createIndexer({ channels: ingestChannels, names: searchNames, indexed });
      let indexer: SupervisedConsumer | undefined;
      let stopping = false;
      let syncing = Promise.resolve();
      function syncIndexer(): void {
        syncing = syncing.then(async () => {
          const up = ingestChannels.every((c) => c.connected);
          engineUp.set(up && searchChannel.connected ? 1 : 0);
          if (up && !indexer && !stopping) {
            indexer = superviseConsumer({
              name: messageStoredTopic.name,
              createConsumer: kafka.createConsumer,
              config: { ...group(""), groupId: `${prefix}${config.SEARCH_INDEXER_GROUP}` },
              logger,
              registry: metrics,
              start: (consumer) =>
                runBatchConsumer(consumer, {
                  dlqProducer: producer,
                  topic: storedTopic,
                  dlqTopic: deadLetterTopicName(prefix, messageStoredTopic),
                  schema: storedEventSchema,
                  logger: logger.child({ component: "search-indexer" }),
                  processed,
                  handle: indexStored,
                }),
            });
          } else if (!up && indexer) {
            const stopped = indexer;
            indexer = undefined;
            await stopped.stop();
          }
        });
      }
      searchChannel.start();
      for (const c of ingestChannels) c.start();
      const search = createMessageSearch({ channel: searchChannel, names: searchNames, conversations, messages });
      const searchCheck = {
        name: "search",
        check: async () => {
          if (!searchChannel.connected || !ingestChannels.every((c) => c.connected)) throw new Error("search engine not connected");
          await indexer?.check();
        },
      };

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
      app.use(express.json({ limit: "256kb" }));
      app.get("/api/search", requireAuth(verifier), async (req, res) => {
        const query = validate(searchQuerySchema, req.query, "query");
        res.json(await search(authOf(res).userId, query));
      });
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
        optional: [searchCheck],
        shutdown: [
          // Disconnecting waits for the batch in hand; its offsets are committed inside it.
          {
            name: "stop consumers",
            run: async () => {
              stopping = true;
              await syncing;
              await Promise.all([sendConsumer.stop(), readConsumer.stop(), indexer?.stop()]);
            },
          },
          { name: "close search engine channels", run: async () => void (await Promise.all([searchChannel, ...ingestChannels].map((c) => c.close()))) },
          { name: "flush producer", run: () => batching.flush() },
        ],
      };
    },
    options,
  );
}
