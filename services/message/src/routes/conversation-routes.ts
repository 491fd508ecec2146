import { Router } from "express";
import {
  DependencyError,
  ForbiddenError,
  INTERNAL_TOKEN_HEADER,
  NotFoundError,
  ValidationError,
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
  historyQuerySchema,
  sendMessageBodySchema,
} from "@chat/shared/contracts";
import { directConversationId, type ConversationDoc, type ConversationStore } from "../store/conversation-store.ts";
import type { MessageStore } from "../store/message-store.ts";
import { randomUUID } from "node:crypto";

export interface ConversationRoutesDeps {
  conversations: ConversationStore;
  messages: MessageStore;
  verifier: TokenVerifier;
  producer: BatchingProducer;
  sendTopic: string;
  authUrl: string;
  internalToken: string;
  maxContentLength: number;
  groupMaxMembers: number;
}

/** `/api/conversations/*` (proxied by every gateway): create, list, history, REST send. */
export function createConversationRoutes(deps: ConversationRoutesDeps): Router {
  const { conversations, messages, verifier, producer, sendTopic, authUrl, internalToken, maxContentLength, groupMaxMembers } = deps;
  const router = Router();
  router.use(requireAuth(verifier));

  async function assertUsersExist(ids: string[]): Promise<void> {
    let res: Response;
    try {
      res = await fetch(new URL("/internal/users/exist", authUrl), {
        method: "POST",
        headers: { "content-type": "application/json", [INTERNAL_TOKEN_HEADER]: internalToken },
        body: JSON.stringify({ ids }),
        signal: AbortSignal.timeout(5000),
      });
    } catch (err) {
      throw new DependencyError("Auth service unavailable", err);
    }
    if (!res.ok) throw new DependencyError(`Auth service answered ${res.status}`);
    const { missing } = (await res.json()) as { missing: string[] };
    if (missing.length > 0) throw new NotFoundError(`Unknown user(s): ${missing.join(", ")}`, "USER_NOT_FOUND");
  }

  /** Only members read or write a conversation. */
  async function memberConversation(id: string, userId: string): Promise<ConversationDoc> {
    const conv = await conversations.findById(id);
    if (!conv) throw new NotFoundError("Conversation not found", "CONVERSATION_NOT_FOUND");
    if (!conv.participantIds.includes(userId)) throw new ForbiddenError("Not a member of this conversation", "NOT_A_MEMBER");
    return conv;
  }

  router.post("/", async (req, res) => {
    const me = authOf(res).userId;
    const input = validate(createConversationSchema, req.body);
    const others = [...new Set(input.participantIds)].filter((id) => id !== me);
    if (others.length === 0) throw new ValidationError("Invalid conversation", { fields: [{ field: "participantIds", message: "needs at least one other user" }] });
    if (others.length + 1 > groupMaxMembers) throw new ValidationError("Invalid conversation", { fields: [{ field: "participantIds", message: `at most ${groupMaxMembers} members` }] });
    const direct = others.length === 1 && input.title === undefined;
    await assertUsersExist(others);
    const now = new Date();
    const doc: ConversationDoc = {
      _id: direct ? directConversationId(me, others[0]!) : randomUUID(),
      type: direct ? "direct" : "group",
      title: input.title ?? null,
      participantIds: [me, ...others],
      lastSeq: 0,
      lastMessage: null,
      createdBy: me,
      createdAt: now,
      lastActivityAt: now,
    };
    const { conversation, created } = await conversations.create(doc);
    res.status(created ? 201 : 200).json({ conversation: await conversations.view(conversation, me) });
  });

  router.get("/", async (req, res) => {
    const { limit } = validate(conversationListQuerySchema, req.query, "query");
    res.json({ conversations: await conversations.listFor(authOf(res).userId, limit) });
  });

  router.get("/:id", async (req, res) => {
    const { id } = validate(conversationIdParamsSchema, req.params, "path");
    const me = authOf(res).userId;
    res.json({ conversation: await conversations.view(await memberConversation(id, me), me) });
  });

  router.get("/:id/messages", async (req, res) => {
    const { id } = validate(conversationIdParamsSchema, req.params, "path");
    const query = validate(historyQuerySchema, req.query, "query");
    await memberConversation(id, authOf(res).userId);
    res.json(await messages.history(id, query));
  });

  router.post("/:id/messages", async (req, res) => {
    const { id } = validate(conversationIdParamsSchema, req.params, "path");
    const body = validate(sendMessageBodySchema, req.body);
    checkContent(body.content, maxContentLength);
    const me = authOf(res).userId;
    await memberConversation(id, me);
    const { record, message } = buildSendRecord({ senderId: me, conversationId: id, content: body.content, clientMsgId: body.clientMsgId, kind: "user" });
    try {
      await producer.send(sendTopic, message);
    } catch (err) {
      throw new DependencyError("Kafka did not accept the message", err);
    }
    res.status(202).json({ messageId: record.messageId, conversationId: id, clientMsgId: record.clientMsgId });
  });

  return router;
}
