import { z } from "../zod.ts";
import { idSchema, isoDateTime } from "../zod.ts";
import { defineTopic } from "./topic.ts";

export const messageKindSchema = z.enum(["user", "auto"]);

/** A message as a client or the AutoMessage worker sent it, before it has a `seq`. */
export const messageSendSchema = z.object({
  v: z.literal(1),
  messageId: z.string().uuid(),
  clientMsgId: z.string().min(1).max(128),
  conversationId: idSchema,
  senderId: idSchema,
  content: z.string().min(1),
  kind: messageKindSchema,
  sentAt: isoDateTime(),
});

export type MessageSend = z.infer<typeof messageSendSchema>;

export const messageSendTopic = defineTopic({
  name: "message.send",
  key: "conversationId (per-conversation order)",
  schema: messageSendSchema,
});
