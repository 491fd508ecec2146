import { cleanText, idSchema, z } from "../zod.ts";
import { messageChangeSchema, storedMessageSchema, type MessageChange, type StoredMessage } from "../topics/message-delivered.ts";

export const createConversationSchema = z
  .object({
    participantIds: z.array(idSchema).min(1).max(99),
    title: cleanText(1, 100).optional(),
  })
  .strict()
  .openapi("CreateConversation");

export const lastMessageSchema = z
  .object({
    messageId: z.string(),
    senderId: idSchema,
    content: z.string(),
    seq: z.number().int(),
    sentAt: z.string(),
    editedAt: z.string().optional(),
    deletedAt: z.string().optional(),
  })
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

/**
 * A page of the conversation's sequence: the messages in it (in their current state: edited
 * content with `editedAt`, deleted ones as tombstones) and the edits and deletes that took a
 * seq in it. A client catching up applies both; `messages` and `changes` together cover every
 * seq of the page.
 */
export const historyResponseSchema = z
  .object({ messages: z.array(storedMessageSchema), changes: z.array(messageChangeSchema), hasMore: z.boolean() })
  .openapi("History");

/** A history page as the sequence it covers: its messages and changes together, in seq order. */
export function pageSequence(page: Pick<z.infer<typeof historyResponseSchema>, "messages" | "changes">): Array<StoredMessage | MessageChange> {
  return [...page.messages, ...page.changes].sort((a, b) => a.seq - b.seq);
}

export const messageParamsSchema = z.object({ id: idSchema, messageId: idSchema }).strict();

export const editMessageBodySchema = z.object({ content: z.string() }).strict().openapi("EditMessage");

export const changeResultSchema = z
  .object({
    conversationId: idSchema,
    messageId: z.string(),
    /** The accepted change; null when nothing was left to change (deleting a deleted message). */
    changeId: z.string().nullable(),
  })
  .openapi("MessageChangeResult");

/** `q` is matched as words (the engine's tokens), never as a command: any character is searched for literally. */
export const searchQuerySchema = z
  .object({
    q: z.string().trim().min(1, "must not be empty").max(200),
    conversationId: idSchema.optional(),
    limit: z.coerce.number().int().min(1).max(50).default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict()
  .openapi("SearchQuery");

export const searchHitSchema = z
  .object({
    conversationId: idSchema,
    messageId: z.string(),
    seq: z.number().int(),
    senderId: idSchema,
    content: z.string(),
    sentAt: z.string(),
    editedAt: z.string().optional(),
  })
  .openapi("SearchHit");

export const searchResponseSchema = z
  .object({ results: z.array(searchHitSchema), nextCursor: z.string().nullable() })
  .openapi("SearchResults");

export type SearchQuery = z.infer<typeof searchQuerySchema>;
export type SearchHit = z.infer<typeof searchHitSchema>;

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
