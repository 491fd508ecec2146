import { randomUUID } from "node:crypto";
import { NotFoundError, ValidationError, createInternalClient } from "@chat/shared";
import { usersExistRoute } from "@chat/shared/contracts";
import { directConversationId, type ConversationDoc, type ConversationStore } from "../store/conversation-store.ts";

export interface ConversationCreatorDeps {
  conversations: ConversationStore;
  authUrl: string;
  internalToken: string;
  groupMaxMembers: number;
}

/**
 * Creating a conversation, for users (REST) and for the AutoMessage worker alike. A direct
 * conversation's id comes from its pair, so concurrent creates meet on one document.
 */
export function createConversationCreator({ conversations, authUrl, internalToken, groupMaxMembers }: ConversationCreatorDeps) {
  const auth = createInternalClient({ service: "Auth service", baseUrl: authUrl, internalToken });
  async function assertUsersExist(ids: string[]): Promise<void> {
    const { missing } = await auth.call(usersExistRoute, { body: { ids } });
    if (missing.length > 0) throw new NotFoundError(`Unknown user(s): ${missing.join(", ")}`, "USER_NOT_FOUND");
  }

  return {
    async create(creatorId: string, participantIds: string[], title?: string): Promise<{ conversation: ConversationDoc; created: boolean }> {
      const others = [...new Set(participantIds)].filter((id) => id !== creatorId);
      if (others.length === 0) {
        throw new ValidationError("Invalid conversation", { fields: [{ field: "participantIds", message: "needs at least one other user" }] });
      }
      if (others.length + 1 > groupMaxMembers) {
        throw new ValidationError("Invalid conversation", { fields: [{ field: "participantIds", message: `at most ${groupMaxMembers} members` }] });
      }
      const direct = others.length === 1 && title === undefined;
      if (direct) {
        const existing = await conversations.findById(directConversationId(creatorId, others[0]!));
        if (existing) return { conversation: existing, created: false };
      }
      await assertUsersExist(direct ? [creatorId, ...others] : others);
      const now = new Date();
      return conversations.create({
        _id: direct ? directConversationId(creatorId, others[0]!) : randomUUID(),
        type: direct ? "direct" : "group",
        title: title ?? null,
        participantIds: [creatorId, ...others],
        lastSeq: 0,
        lastMessage: null,
        createdBy: creatorId,
        createdAt: now,
        lastActivityAt: now,
      });
    },
  };
}

export type ConversationCreator = ReturnType<typeof createConversationCreator>;
