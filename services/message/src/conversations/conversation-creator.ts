import { randomUUID } from "node:crypto";
import { NotFoundError, ValidationError, createInternalClient, type AppError } from "@chat/shared";
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

  function directDoc(a: string, b: string, now: Date): ConversationDoc {
    return {
      _id: directConversationId(a, b),
      type: "direct",
      title: null,
      participantIds: [a, b],
      lastSeq: 0,
      lastMessage: null,
      createdBy: a,
      createdAt: now,
      lastActivityAt: now,
    };
  }

  return {
    /**
     * The direct conversations of many pairs, created when missing: one read of them all, one
     * check of the users of the missing ones, one insert. A pair whose user does not exist
     * gets USER_NOT_FOUND; the others are unaffected.
     */
    async createDirectMany(pairs: Array<[string, string]>): Promise<Array<{ conversationId: string; created: boolean } | { error: AppError }>> {
      const ids = pairs.map(([a, b]) => directConversationId(a, b));
      const existing = new Set((await conversations.findMany([...new Set(ids)])).map((c) => c._id));
      const missingPairs = pairs.filter((_, i) => !existing.has(ids[i]!));
      const users = [...new Set(missingPairs.flat())];
      const unknown = new Set(users.length > 0 ? (await auth.call(usersExistRoute, { body: { ids: users } })).missing : []);
      const now = new Date();
      const toCreate = new Map<string, ConversationDoc>();
      for (const [a, b] of missingPairs) if (a !== b && !unknown.has(a) && !unknown.has(b)) toCreate.set(directConversationId(a, b), directDoc(a, b, now));
      const created = await conversations.createMany([...toCreate.values()]);
      const reported = new Set<string>();
      return pairs.map(([a, b], i) => {
        const id = ids[i]!;
        if (a === b) return { error: new ValidationError("A direct conversation needs two different users") };
        if (existing.has(id) || toCreate.has(id)) {
          // The pair's first answer says whether this call created it; repeats of it did not.
          const first = created.has(id) && !reported.has(id);
          reported.add(id);
          return { conversationId: id, created: first };
        }
        return { error: new NotFoundError(`Unknown user(s): ${[a, b].filter((u) => unknown.has(u)).join(", ")}`, "USER_NOT_FOUND") };
      });
    },

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
