import { z } from "../zod.ts";
import { idSchema, isoDateTime } from "../zod.ts";
import { defineTopic } from "./topic.ts";

/** A member says it has read a conversation up to `seq`. */
export const messageReadSchema = z.object({
  v: z.literal(1),
  conversationId: idSchema,
  userId: idSchema,
  seq: z.number().int().min(0),
  readAt: isoDateTime(),
});

export type MessageRead = z.infer<typeof messageReadSchema>;

export const messageReadTopic = defineTopic({
  name: "message.read",
  key: "conversationId",
  schema: messageReadSchema,
});
