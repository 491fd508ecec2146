import type { z } from "zod";
import { z as zod } from "zod";
import { baseEnv, internalEnv, kafkaEnv, mongoEnv, pemKeyEnv, port, positiveInt, presenceEnv, redisEnv } from "@chat/shared";

export const messageConfigSchema = baseEnv
  .merge(kafkaEnv)
  .merge(mongoEnv)
  .merge(redisEnv)
  .merge(presenceEnv)
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
    /** Largest group conversation. */
    GROUP_MAX_MEMBERS: positiveInt(100),
  })
  .and(pemKeyEnv("JWT_PUBLIC_KEY"));

export type MessageConfig = z.infer<typeof messageConfigSchema>;
