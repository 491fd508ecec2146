import { z } from "../zod.ts";
import { idSchema, isoDateTime } from "../zod.ts";
import { messageKindSchema } from "./message-send.ts";
import { defineTopic } from "./topic.ts";

/** A persisted message, as history returns it and as clients receive it. */
export const storedMessageSchema = z
  .object({
    messageId: z.string(),
    clientMsgId: z.string(),
    conversationId: idSchema,
    senderId: idSchema,
    content: z.string(),
    kind: messageKindSchema,
    seq: z.number().int().positive(),
    sentAt: isoDateTime(),
    createdAt: isoDateTime(),
    /** When its content was last changed by its sender. */
    editedAt: isoDateTime().optional(),
    /** When its sender took it back: its `content` is empty from then on (a tombstone). */
    deletedAt: isoDateTime().optional(),
  })
  .openapi("Message");

export type StoredMessage = z.infer<typeof storedMessageSchema>;

/**
 * An edit or a delete, as applied: it takes its own `seq` in the conversation (after the
 * messages sent before it), so a device that resumes from its last seen seq gets it with no
 * gap and no duplicate. `messageSeq` is the seq of the message it changed.
 */
const changeBase = {
  conversationId: idSchema,
  seq: z.number().int().positive(),
  messageId: z.string(),
  messageSeq: z.number().int().positive(),
  actorId: idSchema,
};
export const messageChangeSchema = z
  .discriminatedUnion("type", [
    z.object({ type: z.literal("edited"), ...changeBase, content: z.string(), editedAt: isoDateTime() }),
    z.object({ type: z.literal("deleted"), ...changeBase, deletedAt: isoDateTime() }),
  ])
  .openapi("MessageChange");

export type MessageChange = z.infer<typeof messageChangeSchema>;
export type MessageEdited = Extract<MessageChange, { type: "edited" }>;
export type MessageDeleted = Extract<MessageChange, { type: "deleted" }>;

/**
 * Events for one recipient, routed to the gateway(s) where that recipient is connected.
 * A union on `type`; gateways handle it with an exhaustive switch.
 */
export const deliveryEventSchema = z.discriminatedUnion("type", [
  z.object({ v: z.literal(1), type: z.literal("message"), recipientId: idSchema, message: storedMessageSchema }),
  z.object({ v: z.literal(1), type: z.literal("change"), recipientId: idSchema, change: messageChangeSchema }),
  z.object({
    v: z.literal(1),
    type: z.literal("read"),
    recipientId: idSchema,
    conversationId: idSchema,
    userId: idSchema,
    seq: z.number().int().min(0),
  }),
  z.object({
    v: z.literal(1),
    type: z.literal("typing"),
    recipientId: idSchema,
    conversationId: idSchema,
    userId: idSchema,
    isTyping: z.boolean(),
  }),
  z.object({
    v: z.literal(1),
    type: z.literal("presence"),
    recipientId: idSchema,
    userId: idSchema,
    online: z.boolean(),
    /**
     * The change's version from the registry (greater for a later change of the same user): a
     * gateway drops a change older than one it already handed out. Absent from gateways that
     * predate it; those changes are handed out as they come.
     */
    version: z.number().int().positive().optional(),
  }),
  z.object({ v: z.literal(1), type: z.literal("push"), recipientId: idSchema, event: z.string(), data: z.unknown() }),
  /** To every device on the gateway: written once to each live gateway's topic. */
  z.object({ v: z.literal(1), type: z.literal("broadcast"), event: z.string(), data: z.unknown() }),
]);

export type DeliveryEvent = z.infer<typeof deliveryEventSchema>;
/** The events addressed to one user. */
export type RecipientEvent = Exclude<DeliveryEvent, { type: "broadcast" }>;
export type BroadcastEvent = Extract<DeliveryEvent, { type: "broadcast" }>;

/**
 * One topic per gateway replica: `message.delivered.<gatewayId>`. A gateway reads only
 * events for users connected to it (see docs/delivery-routing.md).
 */
export const messageDeliveredTopic = defineTopic({
  name: "message.delivered",
  key: "recipientId",
  schema: deliveryEventSchema,
});

export const gatewayDeliveryTopicName = (prefix: string, gatewayId: string) => `${prefix}${messageDeliveredTopic.name}.${gatewayId}`;

/** The gateways whose delivery topics are among `topics` (every gateway creates its own before it accepts a connection). */
export function gatewaysOfDeliveryTopics(prefix: string, topics: string[]): string[] {
  const head = gatewayDeliveryTopicName(prefix, "");
  return topics.filter((t) => t.length > head.length && t.startsWith(head)).map((t) => t.slice(head.length));
}
