import { Router } from "express";
import { NotFoundError, validate } from "@chat/shared";
import { conversationIdParamsSchema, historyQuerySchema, idSchema, z } from "@chat/shared/contracts";
import type { ConversationCreator } from "../conversations/conversation-creator.ts";
import type { ConversationStore } from "../store/conversation-store.ts";
import type { MessageStore } from "../store/message-store.ts";

const userParamsSchema = z.object({ id: idSchema }).strict();
const directRequestSchema = z.object({ userIds: z.tuple([idSchema, idSchema]) }).strict();

/**
 * Service-to-service routes (gateways, AutoMessage worker). The gateway never proxies
 * `/internal`; callers have already authenticated the user they act for.
 */
export function createInternalRoutes({
  conversations,
  messages,
  creator,
}: {
  conversations: ConversationStore;
  messages: MessageStore;
  creator: ConversationCreator;
}): Router {
  const router = Router();

  /** The direct conversation of two users, created when missing (AutoMessage worker). */
  router.post("/conversations/direct", async (req, res) => {
    const { userIds } = validate(directRequestSchema, req.body);
    const { conversation, created } = await creator.create(userIds[0], [userIds[1]]);
    res.status(created ? 201 : 200).json({ conversationId: conversation._id, created });
  });

  router.get("/conversations/:id/participants", async (req, res) => {
    const { id } = validate(conversationIdParamsSchema, req.params, "path");
    const conv = await conversations.findById(id);
    if (!conv) throw new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND");
    res.json({ conversationId: id, participantIds: conv.participantIds });
  });

  router.get("/conversations/:id/messages", async (req, res) => {
    const { id } = validate(conversationIdParamsSchema, req.params, "path");
    const query = validate(historyQuerySchema, req.query, "query");
    const conv = await conversations.findById(id);
    if (!conv) throw new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND");
    res.json(await messages.history(conv, query));
  });

  /** Everyone who shares a conversation with this user: who hears about their presence. */
  router.get("/users/:id/contacts", async (req, res) => {
    const { id } = validate(userParamsSchema, req.params, "path");
    res.json({ userId: id, contactIds: await conversations.contactsOf(id) });
  });

  return router;
}
