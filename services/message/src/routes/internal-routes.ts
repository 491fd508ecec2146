import { Router } from "express";
import { NotFoundError, validate } from "@chat/shared";
import {
  contactsRoute,
  conversationIdParamsSchema,
  directConversationsRoute,
  internalHistoryRoute,
  messageChangeRoute,
  messageParamsSchema,
  participantsRoute,
  type z,
} from "@chat/shared/contracts";
import type { RequestChange } from "../changes/request-change.ts";
import type { ConversationCreator } from "../conversations/conversation-creator.ts";
import type { ConversationStore } from "../store/conversation-store.ts";
import type { MessageStore } from "../store/message-store.ts";

/**
 * Service-to-service routes (gateways, AutoMessage worker), each with its contract in
 * shared/src/contracts/internal/conversations.ts. The gateway never proxies `/internal`;
 * callers have already authenticated the user they act for.
 */
export function createInternalRoutes({
  conversations,
  messages,
  creator,
  requestChange,
}: {
  conversations: ConversationStore;
  messages: MessageStore;
  creator: ConversationCreator;
  requestChange: RequestChange;
}): Router {
  const router = Router();

  router.post("/conversations/direct/batch", async (req, res) => {
    const { pairs } = validate(directConversationsRoute.body, req.body);
    const results = await creator.createDirectMany(pairs);
    const body: z.input<typeof directConversationsRoute.response> = {
      results: results.map((r) => ("error" in r ? { error: { code: r.error.code, message: r.error.message, retriable: r.error.retriable } } : r)),
    };
    res.json(body);
  });

  router.post("/conversations/participants", async (req, res) => {
    const { conversationIds } = validate(participantsRoute.body, req.body);
    const docs = await conversations.findMany([...new Set(conversationIds)]);
    const body: z.input<typeof participantsRoute.response> = {
      conversations: docs.map((c) => ({ conversationId: c._id, participantIds: c.participantIds })),
    };
    res.json(body);
  });

  router.get("/conversations/:id/messages", async (req, res) => {
    const { id } = validate(conversationIdParamsSchema, req.params, "path");
    const query = validate(internalHistoryRoute.query, req.query, "query");
    const conv = await conversations.findById(id);
    if (!conv) throw new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND");
    const body: z.input<typeof internalHistoryRoute.response> = await messages.history(conv, query);
    res.json(body);
  });

  router.post("/conversations/:id/messages/:messageId/changes", async (req, res) => {
    const { id, messageId } = validate(messageParamsSchema, req.params, "path");
    const { actorId, ...request } = validate(messageChangeRoute.body, req.body);
    const body: z.input<typeof messageChangeRoute.response> = await requestChange(id, messageId, actorId, request);
    res.status(body.changeId ? 202 : 200).json(body);
  });

  router.post("/users/contacts", async (req, res) => {
    const { userIds } = validate(contactsRoute.body, req.body);
    const contacts = await conversations.contactsOfMany([...new Set(userIds)]);
    const body: z.input<typeof contactsRoute.response> = { users: [...contacts].map(([userId, contactIds]) => ({ userId, contactIds })) };
    res.json(body);
  });

  return router;
}
