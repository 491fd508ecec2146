import { z } from "zod";
import { baseEnv, kafkaEnv, mongoEnv, port, redisEnv } from "@chat/shared";

export const messageConfigSchema = baseEnv.merge(kafkaEnv).merge(mongoEnv).merge(redisEnv).extend({
  /** HTTP port of the internal conversations/messages API. */
  PORT: port(4002),
  /** Kafka consumer group shared by every message-service replica. */
  MESSAGE_CONSUMER_GROUP: z.string().default("message-service"),
});

export type MessageConfig = z.infer<typeof messageConfigSchema>;
