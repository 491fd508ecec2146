import { Router } from "express";
import {
  authOf,
  buildSendRecord,
  checkContent,
  requireAuth,
  validate,
  type BatchingProducer,
  type TokenVerifier,
} from "@chat/shared";
import {
  conversationIdParamsSchema,
  conversationListQuerySchema,
  createConversationSchema,
  editMessageBodySchema,
  historyQuerySchema,
  messageParamsSchema,
  sendMessageBodySchema,
  type z,
  type changeResultSchema,
} from "@chat/shared/contracts";
import type { RequestChange } from "../changes/request-change.ts";
import type { ConversationCreator } from "../conversations/conversation-creator.ts";
import { memberConversation } from "../conversations/member-conversation.ts";
import type { ConversationStore } from "../store/conversation-store.ts";
import type { MessageStore } from "../store/message-store.ts";

export interface ConversationRoutesDeps {
  conversations: ConversationStore;
  messages: MessageStore;
  verifier: TokenVerifier;
  producer: BatchingProducer;
  sendTopic: string;
  creator: ConversationCreator;
  maxContentLength: number;
  requestChange: RequestChange;
}

/** `/api/conversations/*` (proxied by every gateway): create, list, history, REST send, edit and delete. */
export function createConversationRoutes(deps: ConversationRoutesDeps): Router {
  const { conversations, messages, verifier, producer, sendTopic, creator, maxContentLength, requestChange } = deps;
  const router = Router();
  router.use(requireAuth(verifier));


  router.post("/", async (req, res) => {
    const me = authOf(res).userId;
    const input = validate(createConversationSchema, req.body);
    const { conversation, created } = await creator.create(me, input.participantIds, input.title);
    res.status(created ? 201 : 200).json({ conversation: await conversations.view(conversation, me) });
  });

  router.get("/", async (req, res) => {
    const { limit } = validate(conversationListQuerySchema, req.query, "query");
    res.json({ conversations: await conversations.listFor(authOf(res).userId, limit) });
  });

  router.get("/:id", async (req, res) => {
    const { id } = validate(conversationIdParamsSchema, req.params, "path");
    const me = authOf(res).userId;
    res.json({ conversation: await conversations.view(await memberConversation(conversations, id, me), me) });
  });

  router.get("/:id/messages", async (req, res) => {
    const { id } = validate(conversationIdParamsSchema, req.params, "path");
    const query = validate(historyQuerySchema, req.query, "query");
    res.json(await messages.history(await memberConversation(conversations, id, authOf(res).userId), query));
  });

  router.post("/:id/messages", async (req, res) => {
    const { id } = validate(conversationIdParamsSchema, req.params, "path");
    const body = validate(sendMessageBodySchema, req.body);
    checkContent(body.content, maxContentLength);
    const me = authOf(res).userId;
    await memberConversation(conversations, id, me);
    const { record, message } = buildSendRecord({ senderId: me, conversationId: id, content: body.content, clientMsgId: body.clientMsgId, kind: "user" });
    // Rejects with UNAVAILABLE (503, retriable) when Kafka does not take it in time.
    await producer.send(sendTopic, message);
    res.status(202).json({ messageId: record.messageId, conversationId: id, clientMsgId: record.clientMsgId });
  });

  router.patch("/:id/messages/:messageId", async (req, res) => {
    const { id, messageId } = validate(messageParamsSchema, req.params, "path");
    const { content } = validate(editMessageBodySchema, req.body);
    const body: z.input<typeof changeResultSchema> = await requestChange(id, messageId, authOf(res).userId, { type: "edit", content });
    res.status(202).json(body);
  });

  router.delete("/:id/messages/:messageId", async (req, res) => {
    const { id, messageId } = validate(messageParamsSchema, req.params, "path");
    const body: z.input<typeof changeResultSchema> = await requestChange(id, messageId, authOf(res).userId, { type: "delete" });
    res.status(body.changeId ? 202 : 200).json(body);
  });

  return router;
}
