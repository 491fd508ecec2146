import { Router } from "express";
import type { Consumer, ConsumerConfig, Producer } from "kafkajs";
import { Counter, Gauge, type Histogram, type Registry } from "prom-client";
import { authOf, requireAuth, superviseConsumer, validate, type Logger, type ReadinessCheck, type SupervisedConsumer, type TokenVerifier } from "@chat/shared";
import { deadLetterTopicName, messageStoredTopic, searchQuerySchema, storedEventSchema, topicName } from "@chat/shared/contracts";
import type { MessageConfig } from "../config.ts";
import { runBatchConsumer } from "../pipeline/batch-consumer.ts";
import type { ConversationStore } from "../store/conversation-store.ts";
import type { MessageStore } from "../store/message-store.ts";
import { createIndexer } from "./indexer.ts";
import { searchIndexNames } from "./search-index.ts";
import { createMessageSearch } from "./search-messages.ts";
import { createSonicSearch } from "./sonic.ts";
import { createSonicIngest } from "./sonic-ingest.ts";

export interface SearchFeatureDeps {
  config: MessageConfig;
  createConsumer: (config: ConsumerConfig) => Consumer;
  /** The indexer group's settings (session timeout, heartbeat); its groupId is set here. */
  consumerConfig: ConsumerConfig;
  dlqProducer: Producer;
  conversations: ConversationStore;
  messages: MessageStore;
  verifier: TokenVerifier;
  logger: Logger;
  metrics: Registry;
  processed: Counter<"topic" | "outcome">;
  chunkRecords: Histogram<"topic">;
}

/**
 * Message search, a feature the message service serves without needing it for its job:
 * channels to Sonic that keep themselves connected, the indexer (its own consumer group on
 * `message.stored`, running only while the engine is connected, so it catches up from its
 * committed offsets when the engine is back) and `GET /api/search` (503 while the engine is
 * away). Its readiness is shown by `/readyz` without failing it.
 */
export function createSearchFeature(deps: SearchFeatureDeps) {
  const { config, logger, metrics } = deps;
  const prefix = config.KAFKA_TOPIC_PREFIX;
  const names = searchIndexNames(`${prefix}${config.SEARCH_COLLECTION}`);
  const engineUp = new Gauge({ name: "search_engine_connected", help: "1 while every channel to the search engine is connected", registers: [metrics] });
  const indexed = new Counter({ name: "search_index_operations_total", help: "Search index operations by kind (one per bucket)", labelNames: ["op"] as const, registers: [metrics] });
  const sonic = { host: config.SEARCH_HOST, port: config.SEARCH_PORT, password: config.SEARCH_PASSWORD, logger, onStateChange: () => syncIndexer() };
  const searchChannel = createSonicSearch(sonic);
  const ingestChannels = Array.from({ length: config.SEARCH_INGEST_CHANNELS }, () => createSonicIngest(sonic));
  const ingestConnected = () => ingestChannels.every((c) => c.connected);
  const index = createIndexer({ channels: ingestChannels, names, indexed });
  const storedTopic = topicName(prefix, messageStoredTopic);

  let indexer: SupervisedConsumer | undefined;
  let stopping = false;
  let syncing = Promise.resolve();
  /** Starts the indexer when every ingest channel is connected, stops it when one is not. */
  function syncIndexer(): void {
    syncing = syncing.then(async () => {
      const up = ingestConnected();
      engineUp.set(up && searchChannel.connected ? 1 : 0);
      if (up && !indexer && !stopping) {
        indexer = superviseConsumer({
          name: messageStoredTopic.name,
          createConsumer: deps.createConsumer,
          config: { ...deps.consumerConfig, groupId: `${prefix}${config.SEARCH_INDEXER_GROUP}` },
          logger,
          registry: metrics,
          stalledAfterMs: config.MESSAGE_CONSUMER_STALLED_MS,
          start: (consumer, handling) =>
            runBatchConsumer(consumer, {
              dlqProducer: deps.dlqProducer,
              topic: storedTopic,
              dlqTopic: deadLetterTopicName(prefix, messageStoredTopic),
              schema: storedEventSchema,
              logger: logger.child({ component: "search-indexer" }),
              processed: deps.processed,
              chunkRecords: deps.chunkRecords,
              handle: index,
              handling,
              lingerMs: config.SEARCH_INDEX_LINGER_MS,
            }),
        });
      } else if (!up && indexer) {
        const stopped = indexer;
        indexer = undefined;
        await stopped.stop();
      }
    });
  }

  const search = createMessageSearch({ channel: searchChannel, names, conversations: deps.conversations, messages: deps.messages });
  const routes = Router();
  routes.get("/", requireAuth(deps.verifier), async (req, res) => {
    const query = validate(searchQuerySchema, req.query, "query");
    res.json(await search(authOf(res).userId, query));
  });

  const check: ReadinessCheck = {
    name: "search",
    check: async () => {
      if (!searchChannel.connected || !ingestConnected()) throw new Error("search engine not connected");
      await indexer?.check();
    },
  };

  return {
    /** `/api/search`. */
    routes,
    check,
    start(): void {
      searchChannel.start();
      for (const c of ingestChannels) c.start();
    },
    /** Stops the indexer (the batch in hand finishes) and closes the channels. */
    async stop(): Promise<void> {
      stopping = true;
      await syncing;
      await indexer?.stop();
      await Promise.all([searchChannel, ...ingestChannels].map((c) => c.close()));
    },
  };
}
