import type { z } from "zod";
import { z as zod } from "zod";
import { baseEnv, internalEnv, kafkaEnv, mongoEnv, pemKeyEnv, port, positiveInt, redisEnv } from "@chat/shared";

export const messageConfigSchema = baseEnv
  .merge(kafkaEnv)
  .merge(mongoEnv)
  .merge(redisEnv)
  .merge(internalEnv)
  .extend({
    /** HTTP port of the internal conversations/messages API. */
    PORT: port(4002),
    /** Kafka consumer group shared by every message-service replica. */
    MESSAGE_CONSUMER_GROUP: zod.string().default("message-service"),
    /** Internal auth service base URL (to check that participants exist). */
    AUTH_URL: zod.string().url().default("http://127.0.0.1:4001"),
    /** Longest accepted message, in characters. */
    MESSAGE_MAX_LENGTH: positiveInt(4000),
    /** Kafka consumer session timeout: how long a crashed replica's partitions wait before moving. */
    MESSAGE_SESSION_TIMEOUT_MS: positiveInt(10_000),
    /** A consumer that holds records of one partition this long without handling them is not ready (`/readyz` names the partition). */
    MESSAGE_CONSUMER_STALLED_MS: positiveInt(30_000),
    /** Largest group conversation. */
    GROUP_MAX_MEMBERS: positiveInt(100),
    /** The search engine (Sonic). Messaging never depends on it: search answers 503 while it is away. */
    SEARCH_HOST: zod.string().default("127.0.0.1"),
    SEARCH_PORT: port(1491),
    SEARCH_PASSWORD: zod.string().min(1).default("chat-dev-search"),
    /** Sonic collection of the messages (the topic prefix is put in front, so test clusters keep apart). */
    SEARCH_COLLECTION: zod.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default("messages"),
    /** Ingest channels the indexer uses side by side. */
    SEARCH_INGEST_CHANNELS: positiveInt(4),
    /** Kafka consumer group of the search indexer (reads `message.stored`). */
    SEARCH_INDEXER_GROUP: zod.string().default("search-indexer"),
    /**
     * How long the search indexer waits after handling a fetch before the next one, in place of
     * KAFKA_FETCH_LINGER_MS: nobody waits on the index the way a recipient waits on a message, so
     * it takes fuller batches (fewer fetches, commits and writes to Sonic per message) and search
     * finds a new message at most this much later.
     */
    SEARCH_INDEX_LINGER_MS: zod.coerce.number().int().min(0).max(5000).default(250),
  })
  .and(pemKeyEnv("JWT_PUBLIC_KEY"));

export type MessageConfig = z.infer<typeof messageConfigSchema>;
