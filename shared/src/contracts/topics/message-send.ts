import { z } from "../zod.ts";
import { idSchema, isoDateTime } from "../zod.ts";
import { defineTopic } from "./topic.ts";

export const messageKindSchema = z.enum(["user", "auto"]);

/**
 * A message as a client or the AutoMessage worker sent it, before it has a `seq`. Records
 * written before edits existed carry no `type`: they are sends.
 */
export const messageSendSchema = z.object({
  v: z.literal(1),
  type: z.literal("send").default("send"),
  messageId: z.string().uuid(),
  clientMsgId: z.string().min(1).max(128),
  conversationId: idSchema,
  senderId: idSchema,
  content: z.string().min(1),
  kind: messageKindSchema,
  sentAt: isoDateTime(),
});

/** What an edit and a delete share. `changeId` tells a replay of the record from another change. */
const changeRequest = {
  v: z.literal(1),
  changeId: z.string().uuid(),
  conversationId: idSchema,
  messageId: z.string().uuid(),
  actorId: idSchema,
  requestedAt: isoDateTime(),
};

/** A stored message's sender asks for new content. */
export const messageEditSchema = z.object({ ...changeRequest, type: z.literal("edit"), content: z.string().min(1) });

/** A stored message's sender takes it back: it stays in the sequence as a tombstone with no content. */
export const messageDeleteSchema = z.object({ ...changeRequest, type: z.literal("delete") });

/**
 * What `message.send` carries: sends, edits and deletes of one conversation on one key, so
 * the message service applies them in the order they were accepted.
 */
export const conversationRecordSchema = z.union([messageSendSchema, messageEditSchema, messageDeleteSchema]);

export type MessageSend = z.infer<typeof messageSendSchema>;
export type MessageEdit = z.infer<typeof messageEditSchema>;
export type MessageDelete = z.infer<typeof messageDeleteSchema>;
export type ConversationRecord = z.infer<typeof conversationRecordSchema>;

export const messageSendTopic = defineTopic({
  name: "message.send",
  key: "conversationId (per-conversation order of sends, edits and deletes)",
  schema: conversationRecordSchema,
});
