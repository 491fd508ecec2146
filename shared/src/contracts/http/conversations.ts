import { cleanText, idSchema, z } from "../zod.ts";
import { storedMessageSchema } from "../topics/message-delivered.ts";

export const createConversationSchema = z
  .object({
    participantIds: z.array(idSchema).min(1).max(99),
    title: cleanText(1, 100).optional(),
  })
  .strict()
  .openapi("CreateConversation");

export const lastMessageSchema = z
  .object({ messageId: z.string(), senderId: idSchema, content: z.string(), seq: z.number().int(), sentAt: z.string() })
  .openapi("LastMessage");

export const conversationSchema = z
  .object({
    id: idSchema,
    type: z.enum(["direct", "group"]),
    title: z.string().nullable(),
    participantIds: z.array(idSchema),
    lastSeq: z.number().int(),
    lastMessage: lastMessageSchema.nullable(),
    unreadCount: z.number().int(),
    lastReadSeq: z.number().int(),
    createdAt: z.string(),
    lastActivityAt: z.string(),
  })
  .openapi("Conversation");

export const conversationListQuerySchema = z
  .object({ limit: z.coerce.number().int().min(1).max(200).default(50) })
  .strict();

export const conversationIdParamsSchema = z.object({ id: idSchema }).strict();

export const historyQuerySchema = z
  .object({
    beforeSeq: z.coerce.number().int().min(1).optional(),
    afterSeq: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict()
  .refine((q) => q.beforeSeq === undefined || q.afterSeq === undefined, "use beforeSeq or afterSeq, not both")
  .openapi("HistoryQuery");

export const historyResponseSchema = z
  .object({ messages: z.array(storedMessageSchema), hasMore: z.boolean() })
  .openapi("History");

/** clientMsgId: the client's own id for this message; resending it never creates a second message. */
export const clientMsgIdSchema = z.string().trim().min(1).max(128).regex(/^[\x21-\x7E]+$/, "printable ASCII without spaces");

export const sendMessageBodySchema = z
  .object({ content: z.string(), clientMsgId: clientMsgIdSchema })
  .strict()
  .openapi("SendMessage");

export const sendMessageResultSchema = z
  .object({ messageId: z.string(), conversationId: idSchema, clientMsgId: z.string() })
  .openapi("SendMessageResult");

export type Conversation = z.infer<typeof conversationSchema>;
export type CreateConversation = z.infer<typeof createConversationSchema>;
export type HistoryQuery = z.infer<typeof historyQuerySchema>;
