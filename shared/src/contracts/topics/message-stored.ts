import { z } from "../zod.ts";
import { idSchema } from "../zod.ts";
import { messageChangeSchema, storedMessageSchema } from "./message-delivered.ts";
import { defineTopic } from "./topic.ts";

/**
 * One record per message stored, edited or deleted, written by the message service once it
 * is durable in MongoDB, with the conversation's participants (who may read it). Downstream
 * consumers (the search indexer) build their views from it without asking anyone.
 */
export const storedEventSchema = z.discriminatedUnion("type", [
  z.object({ v: z.literal(1), type: z.literal("message"), participantIds: z.array(idSchema), message: storedMessageSchema }),
  /** `message` is the changed message as it is now (a tombstone after a delete). */
  z.object({ v: z.literal(1), type: z.literal("change"), participantIds: z.array(idSchema), change: messageChangeSchema, message: storedMessageSchema }),
]);

export type StoredEvent = z.infer<typeof storedEventSchema>;

export const messageStoredTopic = defineTopic({
  name: "message.stored",
  key: "conversationId",
  schema: storedEventSchema,
});
